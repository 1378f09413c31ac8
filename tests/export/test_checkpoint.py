"""Every way a checkpoint can be wrong gives one clear line, exit 2 and no version dir."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from inception_svm_client.cli import main as cli_main
from inception_svm_export.architecture import official_variables
from inception_svm_export.checkpoint import load_checkpoint, resolve_checkpoint
from inception_svm_export.exceptions import CheckpointError
from inception_svm_export.random_checkpoint import random_weights, write_checkpoint
from tests.harness import free_port
from tests.local_http import serve_directory

FIRST_CONV = "InceptionV1/Conv2d_1a_7x7/weights"


def _export_fails(checkpoint: Path | str, tmp_path: Path, capsys: pytest.CaptureFixture) -> str:
    """Run the CLI, assert it failed cleanly and left nothing behind; return its stderr."""
    model_dir = tmp_path / "models"
    argv = ["export", "--checkpoint", str(checkpoint), "--model-dir", str(model_dir)]
    assert cli_main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 2
    assert not model_dir.exists() or list(model_dir.iterdir()) == []
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_truncated_checkpoint(
    random_checkpoint_v1: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    truncated = tmp_path / "inception_v1.ckpt"
    data = random_checkpoint_v1.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    message = _export_fails(truncated, tmp_path, capsys)
    assert "is not a readable TensorFlow checkpoint" in message


def test_not_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("these are not the weights you are looking for\n" * 100)
    assert "is not a readable TensorFlow checkpoint" in _export_fails(junk, tmp_path, capsys)


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    message = _export_fails(tmp_path / "nowhere.ckpt", tmp_path, capsys)
    assert "not found" in message and "--checkpoint" in message


def test_missing_variable_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    weights = random_weights()
    del weights["InceptionV1/Mixed_5b/Branch_2/Conv2d_0a_3x3/BatchNorm/moving_mean"]
    checkpoint = write_checkpoint(weights, tmp_path / "partial.ckpt")
    message = _export_fails(checkpoint, tmp_path, capsys)
    assert (
        "missing variables: InceptionV1/Mixed_5b/Branch_2/Conv2d_0a_3x3/BatchNorm/moving_mean"
        in (message)
    )


def test_wrong_shape_and_extra_variable_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    weights = random_weights()
    weights[FIRST_CONV] = np.zeros((7, 7, 3, 32), np.float32)
    weights["InceptionV1/AuxLogits/weights"] = np.zeros((3,), np.float32)
    checkpoint = write_checkpoint(weights, tmp_path / "bad", fmt="v2")
    message = _export_fails(checkpoint, tmp_path, capsys)
    assert f"{FIRST_CONV} has shape [7, 7, 3, 32], expected [7, 7, 3, 64]" in message
    assert "unexpected variables: InceptionV1/AuxLogits/weights" in message


def test_official_tarball_layout_and_sha256(random_checkpoint_v1: Path, tmp_path: Path) -> None:
    tarball = tmp_path / "inception_v1_2016_08_28.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(random_checkpoint_v1, arcname="inception_v1.ckpt")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    resolved = resolve_checkpoint(str(tarball), cache_dir=tmp_path / "cache", sha256=digest)
    assert Path(resolved).name == "inception_v1.ckpt"
    assert set(load_checkpoint(resolved)) == set(official_variables())
    with pytest.raises(CheckpointError, match="has sha256"):
        resolve_checkpoint(str(tarball), cache_dir=tmp_path / "cache", sha256="0" * 64)
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(tarball.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match=r"cut\.tar\.gz"):
        load_checkpoint(resolve_checkpoint(str(truncated), cache_dir=tmp_path / "cache2"))


@pytest.fixture
def local_http_server(tmp_path: Path) -> Iterator[str]:
    """Serves ``tmp_path/www`` on 127.0.0.1 (a free port) for the download path."""
    root = tmp_path / "www"
    root.mkdir()
    with serve_directory(root) as url:
        yield url


def test_download_is_cached_and_verified(
    random_checkpoint_v1: Path, local_http_server: str, tmp_path: Path
) -> None:
    served = tmp_path / "www" / "inception_v1.ckpt"
    served.write_bytes(random_checkpoint_v1.read_bytes())
    digest = hashlib.sha256(served.read_bytes()).hexdigest()
    url = f"{local_http_server}/inception_v1.ckpt"
    cache = tmp_path / "cache"
    with pytest.raises(CheckpointError, match="has sha256"):
        resolve_checkpoint(url, cache_dir=cache, sha256="f" * 64, show_progress=False)
    assert list(cache.iterdir()) == []  # a download that fails verification is not kept
    resolved = resolve_checkpoint(url, cache_dir=cache, sha256=digest, show_progress=False)
    assert Path(resolved) == cache / "inception_v1.ckpt"
    served.unlink()  # the second resolution must come from the cache
    assert resolve_checkpoint(url, cache_dir=cache, sha256=digest) == resolved


def test_offline_says_how_to_provide_a_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # A port nothing listens on: connection refused, like offline.
    url = f"http://127.0.0.1:{free_port()}/inception_v1_2016_08_28.tar.gz"
    message = _export_fails(url, tmp_path, capsys)
    assert "could not download" in message
    assert "--checkpoint PATH" in message
