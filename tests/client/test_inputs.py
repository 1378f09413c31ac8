"""Inputs that cannot hang or exhaust the client, and directory walks that drop nothing."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

from inception_svm_client.inputs import (
    expand_sources,
    images_in_directory,
    path_inputs,
    read_image,
)
from inception_svm_client.records import decode_path, encode_path
from tests.paths import car_photos

SMALL_LIMIT = 1024 * 1024


def read_in_thread(path: str, timeout_s: float = 10) -> object:
    """read_image on a thread: a hang shows up as a failed assertion, not a stuck suite."""
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(read_image(path, SMALL_LIMIT)))
    thread.daemon = True
    thread.start()
    thread.join(timeout_s)
    assert outcome, f"read_image({path!r}) did not return within {timeout_s} s"
    return outcome[0]


def test_dev_zero_is_refused_without_reading_it() -> None:
    item = read_in_thread("/dev/zero")
    assert item.data is None  # type: ignore[attr-defined]
    assert "character device, not a regular file" in item.error  # type: ignore[attr-defined]


def test_fifo_without_a_writer_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    item = read_in_thread(str(fifo))
    assert item.data is None and "FIFO" in item.error  # type: ignore[attr-defined]


def test_reads_stop_at_the_limit_whatever_the_file_claims(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * (SMALL_LIMIT + 10))
    item = read_image(str(big), SMALL_LIMIT)
    assert item.data is None and "over the" in (item.error or "")
    assert read_image(str(car_photos()[0]), SMALL_LIMIT).data == car_photos()[0].read_bytes()


def test_symlinked_folders_are_followed_and_cycles_end(tmp_path: Path) -> None:
    photos = car_photos()[:3]
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for index, photo in enumerate(photos):
        target = root / "real" if index < 2 else elsewhere
        (target / f"img{index}.jpg").write_bytes(photo.read_bytes())
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)  # must be followed
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)  # a cycle
    found = images_in_directory(root)
    names = sorted(path.name for path in found)
    assert names == ["img0.jpg", "img1.jpg", "img2.jpg"], found


def test_non_utf8_names_from_stdin_and_directories_agree(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9-\xff.jpg"
    with open(raw, "wb") as handle:
        handle.write(car_photos()[0].read_bytes())
    from_directory = list(expand_sources([str(tmp_path)]))
    stdin = io.TextIOWrapper(io.BytesIO(raw + b"\n"), encoding="utf-8")
    from_stdin = list(expand_sources(["-"], stdin))
    assert from_directory == from_stdin == [os.fsdecode(raw)]
    assert read_image(from_stdin[0]).data == car_photos()[0].read_bytes()
    assert decode_path(encode_path(from_stdin[0])) == raw


def test_path_inputs_read_nothing_until_loaded(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(car_photos()[0].read_bytes())
    (item,) = path_inputs([str(photo)])
    assert item.data is None and item.error is None  # listed, not read
    photo.write_bytes(b"changed")
    assert item.load().data == b"changed"
