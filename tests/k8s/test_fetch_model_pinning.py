"""Secure by default: the serving pod's init container (k8s/base/fetch-model.sh) refuses a
version whose SHA256SUMS digest is not pinned in MODEL_MANIFEST_SHA256S, unless the user opts
out by name with ALLOW_UNPINNED_MODELS=true.

Why: SHA256SUMS travels in the same bucket as the files it lists, so on its own it only proves
that the files match each other; whoever can write the bucket can write both. The pin, taken
from the export's own output (``MODEL_MANIFEST_SHA256=...``), ties the served bytes to the
export the user made. Run for real with /bin/sh, as tests/k8s/test_fetch_model.py does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from inception_svm_export.integrity import MANIFEST_FILE, file_sha256
from tests.k8s.test_fetch_model import fetch, write_version


def fetch_as_deployed(store: Path, target: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The script with only what k8s/base's ConfigMaps set: no ALLOW_UNPINNED_MODELS."""
    return fetch(store, target, allow_unpinned=False, **env)


@pytest.mark.parametrize("pins", ["", "2=" + "a" * 64])
def test_an_unpinned_version_is_refused_by_default(tmp_path: Path, pins: str) -> None:
    write_version(tmp_path / "store")
    result = fetch_as_deployed(tmp_path / "store", tmp_path / "models", MODEL_MANIFEST_SHA256S=pins)
    assert result.returncode != 0
    assert "version 1 has no pin in MODEL_MANIFEST_SHA256S" in result.stderr
    assert "ALLOW_UNPINNED_MODELS=true" in result.stderr  # the message names the way out
    assert not (tmp_path / "models" / "inception_v1" / "1").exists()


@pytest.mark.parametrize("value", ["false", "yes", "1", "TRUE", ""])
def test_only_the_exact_opt_out_serves_unpinned(tmp_path: Path, value: str) -> None:
    write_version(tmp_path / "store")
    result = fetch_as_deployed(tmp_path / "store", tmp_path / "models", ALLOW_UNPINNED_MODELS=value)
    assert result.returncode != 0, result.stderr
    assert "has no pin" in result.stderr


def test_the_explicit_opt_out_serves_unpinned_and_says_so(tmp_path: Path) -> None:
    write_version(tmp_path / "store")
    result = fetch_as_deployed(
        tmp_path / "store", tmp_path / "models", ALLOW_UNPINNED_MODELS="true"
    )
    assert result.returncode == 0, result.stderr
    assert "ALLOW_UNPINNED_MODELS=true" in result.stderr
    assert (tmp_path / "models" / "inception_v1" / "1" / "saved_model.pb").is_file()


def test_a_pinned_version_is_served_without_the_opt_out(tmp_path: Path) -> None:
    pin = file_sha256(write_version(tmp_path / "store") / MANIFEST_FILE)
    result = fetch_as_deployed(
        tmp_path / "store", tmp_path / "models", MODEL_MANIFEST_SHA256S=f"1={pin}"
    )
    assert result.returncode == 0, result.stderr
    assert "no pin" not in result.stderr


def test_the_opt_out_does_not_weaken_a_pin(tmp_path: Path) -> None:
    write_version(tmp_path / "store")
    result = fetch_as_deployed(
        tmp_path / "store",
        tmp_path / "models",
        MODEL_MANIFEST_SHA256S="1=" + "0" * 64,
        ALLOW_UNPINNED_MODELS="true",
    )
    assert result.returncode != 0
    assert "expected 0000" in result.stderr
