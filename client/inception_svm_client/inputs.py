"""Where images come from: paths, directories, ``-`` (paths on stdin) or raw bytes.

Input problems (missing file, unreadable, empty, too large, not a regular file) become
per-item errors here, before anything reaches the server, so one bad file never fails a
whole batch. Reading is lazy: a directory of a million photos streams instead of being
loaded at once.

Only regular files are read, and never more than the size limit plus one byte: a device
(``/dev/zero``), a FIFO or a socket has no size to trust and may never end or never start
(a FIFO without a writer blocks ``open`` forever), so it is refused without blocking.
Directories are walked following symbolic links, each real directory once, so a link
cycle ends and an aliased folder is not classified twice.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TextIO

from inception_svm_client.config import DEFAULT_MAX_IMAGE_BYTES

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp"})
STDIN_MARKER = "-"


def bundled_cars_dir() -> Path:
    """The demo photos shipped with the client: ``train/<label>/`` and ``unlabeled/``."""
    return Path(str(files("inception_svm_client") / "data" / "cars"))


def bundled_cat_photo() -> Path:
    """The original demo's sanity-check photo (a cat): ImageNet top-5 shows cat classes
    when the real weights are served."""
    return Path(
        str(files("inception_svm_client") / "data" / "samples" / "cat-with-tongue_224x224.jpg")
    )


@dataclass(frozen=True)
class ImageInput:
    """One image to featurize: its encoded bytes, or why it could not be read.

    With ``loader``, the bytes are not read yet: ``load()`` reads them when the batch is
    about to be sent, so inputs that are never sent (the retry budget ran out, the run was
    interrupted) cost no disk reads and the batcher's queue holds names, not images."""

    key: str
    data: bytes | None
    error: str | None = None
    loader: Callable[[], ImageInput] | None = field(default=None, compare=False, repr=False)

    def load(self) -> ImageInput:
        return self.loader() if self.loader is not None else self


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def images_in_directory(directory: Path) -> list[Path]:
    """Image files under ``directory`` (recursive, through symlinked folders), sorted so
    runs are reproducible."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for root, dirs, names in os.walk(directory, followlinks=True):
        identity = _identity(root)
        if identity is None or identity in seen:  # a link cycle or an alias: walked once
            dirs.clear()
            continue
        seen.add(identity)
        found.extend(p for p in (Path(root, name) for name in names) if is_image_file(p))
    return sorted(found)


def _identity(directory: str) -> tuple[int, int] | None:
    try:
        info = os.stat(directory)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def expand_sources(sources: Iterable[str], stdin: TextIO | None = None) -> Iterator[str]:
    """Paths in order: directories expanded, ``-`` replaced by the paths read from stdin.

    Explicit file paths are passed through unchanged (even without an image suffix, and
    even when missing: reading reports that per item)."""
    for source in sources:
        if source == STDIN_MARKER:
            if stdin is None:
                raise ValueError("'-' given but no stdin available")
            yield from _stdin_paths(stdin)
        elif Path(source).is_dir():
            yield from (str(p) for p in images_in_directory(Path(source)))
        else:
            yield source


def _stdin_paths(stdin: TextIO) -> Iterator[str]:
    """One path per line; read as bytes when possible so that a file name that is not
    UTF-8 arrives as the same ``os.fsdecode`` string a directory walk gives."""
    binary = getattr(stdin, "buffer", None)
    lines: Iterable[str] = (
        (os.fsdecode(line.rstrip(b"\r\n")) for line in binary) if binary is not None else stdin
    )
    for line in lines:
        if line.strip():
            yield line.strip()


def check_size(key: str, data: bytes, max_bytes: int) -> ImageInput:
    if not data:
        return ImageInput(key, None, "empty file")
    if len(data) > max_bytes:
        return ImageInput(key, None, f"{len(data)} bytes is over the {max_bytes}-byte limit")
    return ImageInput(key, data)


_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str:
    return next((name for check, name in _FILE_KINDS if check(mode)), "not a regular file")


def read_image(path: str, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> ImageInput:
    """The file's bytes, or why not; never blocks on a FIFO and never reads more than
    ``max_bytes + 1`` bytes whatever the file claims its size is."""
    try:
        # O_NONBLOCK: opening a FIFO without a writer returns at once instead of hanging.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        return ImageInput(path, None, f"cannot read: {error.strerror or error}")
    try:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                kind = _kind(info.st_mode)
                return ImageInput(path, None, f"{kind}, not a regular file: refused")
            if info.st_size > max_bytes:
                return ImageInput(
                    path, None, f"{info.st_size} bytes is over the {max_bytes}-byte limit"
                )
            data = _read_at_most(fd, max_bytes + 1)
        except OSError as error:
            return ImageInput(path, None, f"cannot read: {error.strerror or error}")
    finally:
        os.close(fd)
    return check_size(path, data, max_bytes)


def _read_at_most(fd: int, limit: int) -> bytes:
    """Reads until EOF or ``limit`` bytes (a file may grow after ``fstat``)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def path_inputs(
    sources: Iterable[str],
    *,
    stdin: TextIO | None = None,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    skip: Callable[[str], bool] | None = None,
) -> Iterator[ImageInput]:
    """Lazy inputs (read by ``ImageInput.load``); ``skip(path)`` true: not yielded
    (``--resume``: already recorded)."""
    for path in expand_sources(sources, stdin):
        if skip is None or not skip(path):
            yield ImageInput(path, None, loader=functools.partial(read_image, path, max_bytes))


def bytes_inputs(
    images: Iterable[bytes], *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES
) -> Iterator[ImageInput]:
    """Raw encoded images (e.g. from a queue or an upload), keyed ``#0``, ``#1``, ..."""
    for index, data in enumerate(images):
        yield check_size(f"#{index}", data, max_bytes)


def labeled_folders(data_dir: Path) -> dict[str, list[Path]]:
    """``DATA_DIR/<label>/*`` → {label: sorted image paths}, labels sorted."""
    if not data_dir.is_dir():
        raise ValueError(f"{data_dir} is not a directory")
    return {
        child.name: images_in_directory(child)
        for child in sorted(data_dir.iterdir())
        if child.is_dir() and not child.name.startswith(".")
    }
