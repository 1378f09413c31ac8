"""``train``'s outputs are checked before any featurizing: the ONNX file never lands on a
training photo, and a file that is not a regular one is never replaced."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.client.special_files import fifo, kind
from tests.client.test_cli import run_main
from tests.paths import car_photos

NOWHERE = ["--server", "127.0.0.1:1", "--retry-budget", "0"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    for label, photo in zip(("classic", "modern"), car_photos()[:2], strict=True):
        (tmp_path / "data" / label).mkdir(parents=True)
        (tmp_path / "data" / label / "a.jpg").write_bytes(photo.read_bytes())
    return tmp_path / "data"


def test_an_output_inside_the_training_set_is_refused_and_the_photo_kept(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = data_dir / "classic" / "a.jpg"
    before = hashlib.sha256(photo.read_bytes()).hexdigest()
    code, _, err = run_main(capsys, "train", str(data_dir), "--output", str(photo), *NOWHERE)
    assert code == 2 and "inside the input directory" in err, err
    report = data_dir / "modern" / "report.json"
    code, _, err = run_main(
        capsys, "train", str(data_dir), "--output", str(data_dir.parent / "svm.onnx"),
        "--training-report", str(report), *NOWHERE,
    )  # fmt: skip
    assert code == 2 and "--training-report" in err, err
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == before
    assert not report.exists()


def test_a_special_output_is_refused_before_featurizing(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = fifo(tmp_path / "svm.onnx")
    code, _, err = run_main(capsys, "train", str(data_dir), "--output", str(target), *NOWHERE)
    assert code == 2 and "FIFO" in err, err
    assert "127.0.0.1:1" not in err  # refused before connecting
    assert kind(target) == "fifo"
