"""The one module that reads and writes user-named files: what it refuses, and that a
refused file is left exactly as it was (a FIFO stays a FIFO, a device stays a device)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from inception_svm_client.exceptions import FileRefused
from inception_svm_client.files import (
    open_locked,
    read_bounded,
    refuse_inputs,
    write_atomically,
)
from tests.client.special_files import fifo, kind, null_device, zero_device


def test_read_bounded_refuses_special_files_without_blocking(tmp_path: Path) -> None:
    for path, word in ((fifo(tmp_path / "f"), "FIFO"), (zero_device(tmp_path / "z"), "device")):
        with pytest.raises(FileRefused, match=word):
            read_bounded(path, 1024, "--svm")


def test_read_bounded_refuses_a_file_over_its_cap_without_reading_it(tmp_path: Path) -> None:
    sparse = tmp_path / "big.onnx"
    with sparse.open("wb") as handle:
        handle.truncate(3 * 1024**3)  # 3 GB that take no disk
    with pytest.raises(FileRefused, match="over the 1024-byte limit"):
        read_bounded(sparse, 1024, "--svm")
    small = tmp_path / "small"
    small.write_bytes(b"x" * 10)
    assert read_bounded(small, 10, "x") == b"x" * 10


@pytest.mark.parametrize("make", ["fifo", "chardev", "link", "dir"])
def test_write_atomically_never_replaces_what_is_not_a_regular_file(
    tmp_path: Path, make: str
) -> None:
    target = tmp_path / "out.json"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    if make == "fifo":
        fifo(target)
    elif make == "chardev":
        null_device(target)
    elif make == "link":
        target.symlink_to(victim)
    else:
        target.mkdir()
    with pytest.raises(FileRefused, match="not a regular file: refused"):
        write_atomically(target, "{}", "--output")
    assert kind(target) == make
    assert victim.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_write_atomically_replaces_a_regular_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o640)
    write_atomically(target, "new", "--report")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640


def test_an_output_that_is_an_input_or_inside_one_is_refused(tmp_path: Path) -> None:
    photo = tmp_path / "photos" / "a.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"jpeg")
    alias = tmp_path / "alias.jpg"
    os.link(photo, alias)  # another name, same inode
    with pytest.raises(FileRefused, match="is the input"):
        refuse_inputs(alias, [str(photo)], "--output")
    with pytest.raises(FileRefused, match="inside the input directory"):
        refuse_inputs(photo.parent / "sub" / "x.onnx", [str(photo.parent)], "--output")
    refuse_inputs(tmp_path / "records.jsonl", [str(photo), str(photo.parent)], "--output")


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    output = tmp_path / "records.jsonl"
    output.write_text("first run's line\n")
    with output.open("a") as first:
        fcntl.flock(first.fileno(), fcntl.LOCK_EX)
        with pytest.raises(FileRefused, match="another run"):
            open_locked(output, "--output")
    fd = open_locked(output, "--output")  # free again once the first run is gone
    os.close(fd)
    assert output.read_text() == "first run's line\n"
