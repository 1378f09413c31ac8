"""classify's ``--output``, ``--resume``, ``--report`` and ``--training-report`` as a user
types them: every refusal happens before any call (the server address leads nowhere), exits
2 naming the file, and leaves the file exactly as it was."""

from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path

import pytest

from inception_svm_client.records import ClassifyRecord
from tests.client.special_files import fifo, kind, null_device, zero_device
from tests.client.svm_files import write_svm
from tests.client.test_cli import run_main
from tests.paths import car_photos

NOWHERE = ["--server", "127.0.0.1:1", "--retry-budget", "0", "--deadline", "1"]


@pytest.fixture(scope="module")
def svm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_svm(tmp_path_factory.mktemp("svm") / "svm.onnx")


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "a.jpg"
    path.write_bytes(car_photos()[0].read_bytes())
    return path


def classify(capsys: pytest.CaptureFixture[str], svm: Path, *args: str) -> tuple[int, str, str]:
    return run_main(capsys, "classify", *args, "--svm", str(svm), *NOWHERE)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_output_equal_to_the_input_leaves_the_photo_intact(
    capsys: pytest.CaptureFixture[str], svm: Path, photo: Path
) -> None:
    before = digest(photo)
    for flags in (["--output", str(photo)], ["--resume", "--output", str(photo)]):
        code, out, err = classify(capsys, svm, str(photo), *flags)
        assert (code, out) == (2, ""), err
        assert "is the input" in err
    assert digest(photo) == before


def test_an_output_inside_an_input_directory_is_refused(
    capsys: pytest.CaptureFixture[str], svm: Path, photo: Path
) -> None:
    code, _, err = classify(capsys, svm, str(photo.parent), "--output", str(photo))
    assert code == 2 and "inside the input directory" in err
    assert photo.stat().st_size > 0


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"path,label\na.jpg,cat", "not a classify record"),  # last line unterminated
        (b"one line without newline", "not a classify record"),
        (None, "not a classify record"),  # a JPEG
        (
            (json.dumps({**ClassifyRecord("a.jpg").as_dict(), "schema": 2}) + "\n").encode(),
            "schema 2",
        ),
    ],
    ids=["csv", "no-newline", "jpeg", "schema-2"],
)
def test_resume_leaves_a_file_that_is_not_our_records_untouched(
    capsys: pytest.CaptureFixture[str],
    svm: Path,
    photo: Path,
    tmp_path: Path,
    content: bytes | None,
    why: str,
) -> None:
    output = tmp_path / "previous"
    output.write_bytes(content if content is not None else car_photos()[1].read_bytes())
    before = output.read_bytes()
    code, out, err = classify(capsys, svm, str(photo), "--resume", "--output", str(output))
    assert (code, out) == (2, ""), err
    assert why in err and "Traceback" not in err
    assert output.read_bytes() == before


@pytest.mark.parametrize("resume", [False, True], ids=["output", "resume"])
@pytest.mark.parametrize("make", ["fifo", "chardev", "link"])
def test_special_outputs_are_refused_and_survive(
    capsys: pytest.CaptureFixture[str],
    svm: Path,
    photo: Path,
    tmp_path: Path,
    make: str,
    resume: bool,
) -> None:
    output = tmp_path / "out.jsonl"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    {"fifo": fifo, "chardev": null_device, "link": lambda p: p.symlink_to(victim)}[make](output)
    flags = ["--resume"] if resume else []
    code, out, err = classify(capsys, svm, str(photo), *flags, "--output", str(output))
    assert (code, out) == (2, ""), err
    assert f"--output {output}" in err and "refused" in err
    assert "127.0.0.1:1" not in err  # refused before connecting, not "connection refused"
    assert kind(output) == make and victim.read_text() == "keep me"


def test_a_second_run_on_the_same_output_is_refused(
    capsys: pytest.CaptureFixture[str], svm: Path, photo: Path, tmp_path: Path
) -> None:
    output = tmp_path / "records.jsonl"
    line = json.dumps(ClassifyRecord("x.jpg", "modern", 0.5).as_dict()) + "\n"
    output.write_text(line)
    with output.open("a") as first_run:
        fcntl.flock(first_run.fileno(), fcntl.LOCK_EX)
        for flags in ([], ["--resume"]):
            code, _, err = classify(capsys, svm, str(photo), *flags, "--output", str(output))
            assert code == 2 and "another run" in err, err
    assert output.read_text() == line


@pytest.mark.parametrize("make", ["dir", "chardev", "input"])
def test_report_destination_is_checked_before_any_work(
    capsys: pytest.CaptureFixture[str], svm: Path, photo: Path, tmp_path: Path, make: str
) -> None:
    report = {"dir": tmp_path, "chardev": null_device(tmp_path / "r.html"), "input": photo}[make]
    code, out, err = classify(capsys, svm, str(photo), "--report", str(report))
    assert (code, out) == (2, ""), err
    assert f"--report {report}" in err
    assert "127.0.0.1:1" not in err  # refused before connecting


def test_unbounded_user_files_are_refused_not_read(
    capsys: pytest.CaptureFixture[str], svm: Path, photo: Path, tmp_path: Path
) -> None:
    zero = zero_device(tmp_path / "zero")
    code, _, err = classify(capsys, svm, str(photo), "--training-report", str(zero))
    assert code == 2 and "character device" in err
    code, _, err = run_main(capsys, "classify", str(photo), "--svm", str(zero), *NOWHERE)
    assert code == 2 and "character device" in err
    huge = tmp_path / "huge.onnx"
    with huge.open("wb") as handle:
        handle.truncate(3 * 1024**3)  # sparse: 3 GB that are never read
    code, _, err = run_main(capsys, "classify", str(photo), "--svm", str(huge), *NOWHERE)
    assert code == 2 and "limit" in err
    code, _, err = classify(
        capsys, svm, str(photo), "--resume", "--output", str(fifo(tmp_path / "f"))
    )
    assert code == 2 and "FIFO" in err
