"""Where images come from: paths, directories, ``-`` (paths on stdin) or raw bytes.

Input problems (missing file, unreadable, empty, too large, not a regular file) become
per-item errors here, before anything reaches the server, so one bad file never fails a
whole batch. Reading is lazy: a directory of a million photos streams instead of being
loaded at once.

Only regular files are read, and never more than the size limit plus one byte: a device
(``/dev/zero``), a FIFO or a socket has no size to trust and may never end or never start
(a FIFO without a writer blocks ``open`` forever), so it is refused without blocking.
Directories are walked following symbolic links, each real directory once, so a link
cycle ends and an aliased folder is not classified twice. Nothing a walk finds is skipped
silently: a subdirectory that cannot be listed, a dangling link, a link loop or a link to a
device gets its own error record, as it would when given by name.

Paths on stdin are one per line, each at most ``MAX_STDIN_LINE`` bytes: a line with a NUL
byte (``find -print0``) or an endless line (``< /dev/zero``) becomes one error record
instead of sinking the run or filling memory.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TextIO

from inception_svm_client.config import DEFAULT_MAX_IMAGE_BYTES
from inception_svm_client.files import file_kind, read_at_most

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp"})
STDIN_MARKER = "-"
# PATH_MAX is 4096 bytes on Linux; a longer line is not a path.
MAX_STDIN_LINE = 64 * 1024


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
    try:
        return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    except OSError:
        return False


def images_in_directory(directory: Path) -> list[Path]:
    """Image files under ``directory`` (recursive, through symlinked folders), sorted so
    runs are reproducible; ``ValueError`` listing every entry that looks like an input but
    cannot be one (a dangling link, a device, an unlistable folder): training or load
    testing on silently fewer images than the folder shows is worse than stopping."""
    paths, unusable = _usable_images(directory)
    _refuse_unusable(unusable)
    return paths


def _usable_images(directory: Path) -> tuple[list[Path], list[str]]:
    found = walk_directory(directory)
    unusable = [f"{path}: {problem}" for path, problem in found if problem is not None]
    return [Path(path) for path, problem in found if problem is None], unusable


def _refuse_unusable(unusable: list[str], shown: int = 20) -> None:
    if unusable:
        listed = "\n  ".join(unusable[:shown])
        more = f"\n  ... and {len(unusable) - shown} more" if len(unusable) > shown else ""
        raise ValueError(f"unusable image entries:\n  {listed}{more}")


def walk_directory(directory: Path | str) -> list[tuple[str, str | None]]:
    """Every entry under ``directory`` that is an input, sorted, with why it cannot be one
    (``None``: a regular image file). Entries with an image suffix that are not regular
    files (a link to a device, a dangling link), links that resolve to nothing whatever
    their name, and subdirectories that cannot be listed are all reported."""
    found: list[tuple[str, str | None]] = []
    seen: set[tuple[int, int]] = set()

    def unlistable(error: OSError) -> None:
        where = error.filename if error.filename is not None else str(directory)
        found.append((os.fsdecode(where), f"cannot list directory: {error.strerror or error}"))

    for root, dirs, names in os.walk(directory, onerror=unlistable, followlinks=True):
        identity = _identity(root)
        if identity is None or identity in seen:  # a link cycle or an alias: walked once
            dirs.clear()
            continue
        seen.add(identity)
        for name in names:
            entry = _walk_entry(os.path.join(root, name))
            if entry is not None:
                found.append(entry)
    return sorted(found)


def _walk_entry(path: str) -> tuple[str, str | None] | None:
    is_image = Path(path).suffix.lower() in IMAGE_SUFFIXES
    try:
        info = os.stat(path)
    except OSError as error:
        if os.path.islink(path):
            return path, _link_problem(error)
        return (path, f"cannot read: {error.strerror or error}") if is_image else None
    if not is_image:
        return None
    if stat.S_ISREG(info.st_mode):
        return path, None
    return path, f"{file_kind(info.st_mode)}, not a regular file: refused"


def _link_problem(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a symbolic link loop: refused"
    if error.errno == errno.ENOENT:
        return "a dangling symbolic link (its target does not exist)"
    return f"a symbolic link that cannot be followed: {error.strerror or error}"


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
    return (path for path, _ in expand_inputs(sources, stdin))


def expand_inputs(
    sources: Iterable[str], stdin: TextIO | None = None
) -> Iterator[tuple[str, str | None]]:
    """``expand_sources`` with, for each path, why it cannot be read (``None``: try it)."""
    for source in sources:
        if source == STDIN_MARKER:
            if stdin is None:
                raise ValueError("'-' given but no stdin available")
            yield from _stdin_paths(stdin)
        elif _is_dir(source):
            yield from walk_directory(source)
        else:
            yield source, None


def _is_dir(path: str) -> bool:
    """``Path.is_dir`` raises PermissionError (Python 3.11) for a path in a directory that
    cannot be searched; such a path is an input whose reading says why it fails."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _stdin_paths(stdin: TextIO) -> Iterator[tuple[str, str | None]]:
    """One path per line; read as bytes when possible so that a file name that is not
    UTF-8 arrives as the same ``os.fsdecode`` string a directory walk gives."""
    binary = getattr(stdin, "buffer", None)
    while True:
        raw = binary.readline(MAX_STDIN_LINE + 1) if binary is not None else None
        if binary is None:
            text = stdin.readline(MAX_STDIN_LINE + 1)
            raw = os.fsencode(text)
        if not raw:
            return
        if len(raw) > MAX_STDIN_LINE and not raw.endswith(b"\n"):
            shown = os.fsdecode(raw[:200].replace(b"\0", b"")) + "..."
            yield (
                shown,
                (
                    f"a line of more than {MAX_STDIN_LINE} bytes on stdin is not a path: "
                    "stdin is not read any further"
                ),
            )
            return
        line = raw.rstrip(b"\r\n").strip()
        if not line:
            continue
        if b"\0" in line:
            yield (
                os.fsdecode(line),
                (
                    "the path contains a NUL byte: give one path per line on stdin "
                    "(find -print, not -print0)"
                ),
            )
            continue
        yield os.fsdecode(line), None


def check_size(key: str, data: bytes, max_bytes: int) -> ImageInput:
    if not data:
        return ImageInput(key, None, "empty file")
    if len(data) > max_bytes:
        return ImageInput(key, None, f"{len(data)} bytes is over the {max_bytes}-byte limit")
    return ImageInput(key, data)


def read_image(
    path: str,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    exclude: frozenset[tuple[int, int]] = frozenset(),
) -> ImageInput:
    """The file's bytes, or why not; never blocks on a FIFO and never reads more than
    ``max_bytes + 1`` bytes whatever the file claims its size is. A file whose (device,
    inode) is in ``exclude`` (the run's own output) is refused."""
    try:
        # O_NONBLOCK: opening a FIFO without a writer returns at once instead of hanging.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as error:
        return ImageInput(path, None, _open_problem(path, error))
    try:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                kind = file_kind(info.st_mode)
                return ImageInput(path, None, f"{kind}, not a regular file: refused")
            if (info.st_dev, info.st_ino) in exclude:
                return ImageInput(path, None, "the run's own --output file: refused")
            if info.st_size > max_bytes:
                return ImageInput(
                    path, None, f"{info.st_size} bytes is over the {max_bytes}-byte limit"
                )
            data = read_at_most(fd, max_bytes + 1)
        except OSError as error:
            return ImageInput(path, None, f"cannot read: {error.strerror or error}")
    finally:
        os.close(fd)
    return check_size(path, data, max_bytes)


def _open_problem(path: str, error: OSError | ValueError) -> str:
    if isinstance(error, ValueError):  # a NUL byte: no system call takes it
        return f"cannot read: {error}"
    if error.errno in (errno.ENOENT, errno.ELOOP) and os.path.islink(path):
        return _link_problem(error)
    return f"cannot read: {error.strerror or error}"


def path_inputs(
    sources: Iterable[str],
    *,
    stdin: TextIO | None = None,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    skip: Callable[[str], bool] | None = None,
    exclude: frozenset[tuple[int, int]] = frozenset(),
) -> Iterator[ImageInput]:
    """Lazy inputs (read by ``ImageInput.load``); ``skip(path)`` true: not yielded
    (``--resume``: already recorded); ``exclude``: (device, inode) pairs refused."""
    for path, problem in expand_inputs(sources, stdin):
        if skip is not None and skip(path):
            continue
        if problem is not None:
            yield ImageInput(path, None, problem)
        else:
            loader = functools.partial(read_image, path, max_bytes, exclude)
            yield ImageInput(path, None, loader=loader)


def bytes_inputs(
    images: Iterable[bytes], *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES
) -> Iterator[ImageInput]:
    """Raw encoded images (e.g. from a queue or an upload), keyed ``#0``, ``#1``, ..."""
    for index, data in enumerate(images):
        yield check_size(f"#{index}", data, max_bytes)


def labeled_folders(data_dir: Path) -> dict[str, list[Path]]:
    """``DATA_DIR/<label>/*`` → {label: sorted image paths}, labels sorted; ``ValueError``
    for an entry that cannot be used (``images_in_directory``)."""
    if not _is_dir(str(data_dir)):
        raise ValueError(f"{data_dir} is not a directory")
    try:
        children = sorted(data_dir.iterdir())
    except OSError as error:
        raise ValueError(f"cannot list {data_dir}: {error.strerror or error}") from None
    folders: dict[str, list[Path]] = {}
    unusable: list[str] = []
    for child in children:
        if _is_dir(str(child)) and not child.name.startswith("."):
            folders[child.name], problems = _usable_images(child)
            unusable += problems
    _refuse_unusable(unusable)
    return folders
