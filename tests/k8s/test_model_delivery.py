"""The model-delivery chain end to end with the real producer and the real verifier:
the exporter (session fixture ``model_base_path``: ``export_saved_model`` on a random
checkpoint) → the object-store layout the exporter Job uploads (``<store>/inception_v1/1/``,
byte for byte, as ``rclone copy`` leaves it) → k8s/base/fetch-model.sh → a verified version
dir for TF Serving. Tampered, truncated and manifest-less uploads never become visible.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inception_svm_export.integrity import MANIFEST_FILE, file_sha256, write_manifest
from tests.k8s.test_fetch_model import fetch

WEIGHTS = "variables/variables.data-00000-of-00001"


def upload(model_base_path: Path, store: Path) -> Path:
    """What the exporter Job's upload container writes into the bucket."""
    uploaded = store / "inception_v1" / "1"
    shutil.copytree(model_base_path / "1", uploaded)
    return uploaded


def test_exporter_writes_a_manifest_covering_every_file(model_base_path: Path) -> None:
    version_dir = model_base_path / "1"
    listed = {
        line.split("  ", 1)[1].removeprefix("./")
        for line in (version_dir / MANIFEST_FILE).read_text().splitlines()
    }
    present = {
        p.relative_to(version_dir).as_posix()
        for p in version_dir.rglob("*")
        if p.is_file() and p.name != MANIFEST_FILE
    }
    assert listed == present and {"saved_model.pb", WEIGHTS} <= listed
    assert not [p for p in model_base_path.iterdir() if p.name.startswith(".")]


def test_real_export_travels_through_the_store_verified(
    model_base_path: Path, tmp_path: Path
) -> None:
    uploaded = upload(model_base_path, tmp_path / "store")
    pin = f"1={file_sha256(uploaded / MANIFEST_FILE)}"
    result = fetch(tmp_path / "store", tmp_path / "models", MODEL_MANIFEST_SHA256S=pin)
    assert result.returncode == 0, result.stderr
    served = tmp_path / "models" / "inception_v1" / "1"
    for path in (model_base_path / "1").rglob("*"):
        if path.is_file():
            relative = path.relative_to(model_base_path / "1")
            assert (served / relative).read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("tampered", "checksum mismatch"),
        ("truncated", "checksum mismatch"),
        ("missing_manifest", "has no SHA256SUMS"),
        ("manifest_swapped", "expected"),
    ],
)
def test_damaged_upload_is_refused(
    model_base_path: Path, tmp_path: Path, damage: str, message: str
) -> None:
    uploaded = upload(model_base_path, tmp_path / "store")
    pin = f"1={file_sha256(uploaded / MANIFEST_FILE)}"
    weights = uploaded / WEIGHTS
    if damage == "tampered":
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "truncated":  # an interrupted upload
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "missing_manifest":
        (uploaded / MANIFEST_FILE).unlink()
    elif damage == "manifest_swapped":  # files and manifest replaced together: the pin catches it
        weights.write_bytes(b"evil")
        write_manifest(uploaded)
    result = fetch(tmp_path / "store", tmp_path / "models", MODEL_MANIFEST_SHA256S=pin)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "models" / "inception_v1" / "1").exists()
