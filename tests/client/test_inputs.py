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


def _inputs(
    sources: list[str], stdin: io.TextIOWrapper | None = None
) -> list[tuple[str, str | None]]:
    """(path, error) per input, every input loaded, as classify sees them."""
    loaded = (item.load() for item in path_inputs(sources, stdin=stdin, max_bytes=SMALL_LIMIT))
    return [(item.key, item.error) for item in loaded]


def test_a_nul_byte_on_stdin_is_one_error_record_not_a_lost_run(tmp_path: Path) -> None:
    photo = str(car_photos()[0])
    # find -print0: NUL-separated names on one line, then a normal line.
    stdin = io.TextIOWrapper(io.BytesIO(f"{photo}\0{photo}\0\n{photo}\n".encode()))
    results = _inputs(["-"], stdin)
    assert len(results) == 2
    assert "NUL byte" in (results[0][1] or "") and "-print0" in (results[0][1] or "")
    assert results[1] == (photo, None)


def test_an_endless_line_on_stdin_is_bounded() -> None:
    class Zeros(io.RawIOBase):  # /dev/zero: never a newline, never an end
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            buffer[:] = bytes(len(buffer))
            return len(buffer)

    stdin = io.TextIOWrapper(io.BufferedReader(Zeros()))
    results = _inputs(["-"], stdin)
    assert len(results) == 1
    assert "is not a path" in (results[0][1] or "")


def test_a_walk_reports_links_it_cannot_follow_instead_of_skipping_them(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    good = root / "good.jpg"
    good.write_bytes(car_photos()[0].read_bytes())
    (root / "dangling.jpg").symlink_to(root / "missing.jpg")
    (root / "dangling-no-suffix").symlink_to(root / "missing")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    (root / "notes.txt").write_text("not an image: not an input")
    device = tmp_path / "zero"
    try:
        os.mknod(device, 0o666 | 0o020000, os.makedev(1, 5))
        (root / "device.jpg").symlink_to(device)
    except PermissionError:
        pass  # not root: the device case is covered where mknod works
    found = dict(_inputs([str(root)]))
    assert found.pop(str(good)) is None
    assert "dangling" in (found.pop(str(root / "dangling.jpg")) or "")
    assert "dangling" in (found.pop(str(root / "dangling-no-suffix")) or "")
    assert "loop" in (found.pop(str(root / "loop.jpg")) or "")
    if (root / "device.jpg").is_symlink():
        assert "character device" in (found.pop(str(root / "device.jpg")) or "")
    assert found == {}
    # By name, the same paths get the same kind of answer.
    named = dict(_inputs([str(root / "dangling.jpg"), str(root / "loop.jpg")]))
    assert "dangling" in (named[str(root / "dangling.jpg")] or "")
    assert "loop" in (named[str(root / "loop.jpg")] or "")


def test_permission_problems_are_records_not_tracebacks() -> None:
    from tests.client.special_files import unprivileged, world_readable_dir

    root = world_readable_dir()
    try:
        photo_bytes = car_photos()[0].read_bytes()
        listable = root / "photos"
        (listable / "locked").mkdir(parents=True)
        (listable / "good.jpg").write_bytes(photo_bytes)
        (listable / "locked" / "hidden.jpg").write_bytes(photo_bytes)
        (listable / "locked").chmod(0o000)  # cannot be listed
        unsearchable = root / "unsearchable"
        unsearchable.mkdir()
        (unsearchable / "x.jpg").write_bytes(photo_bytes)
        unsearchable.chmod(0o600)  # no x: a path inside cannot even be stat'ed

        def run() -> list[list[str | None]]:
            sources = [str(listable), str(unsearchable / "x.jpg")]
            return [list(pair) for pair in _inputs(sources)]

        results = {path: error for path, error in unprivileged(run)}
        assert results[str(listable / "good.jpg")] is None
        assert "cannot list directory" in (results[str(listable / "locked")] or "")
        assert "Permission denied" in (results[str(unsearchable / "x.jpg")] or "")
        assert len(results) == 3
    finally:
        for path in (root / "photos" / "locked", root / "unsearchable"):
            path.chmod(0o755)
        import shutil

        shutil.rmtree(root)


def test_the_runs_own_output_is_refused_as_an_input(tmp_path: Path) -> None:
    output = tmp_path / "records.jpg"
    output.write_bytes(car_photos()[0].read_bytes())
    info = output.stat()
    inputs = path_inputs([str(output)], exclude=frozenset({(info.st_dev, info.st_ino)}))
    assert "--output" in (next(inputs).load().error or "")
