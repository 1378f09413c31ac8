"""Where images come from: paths, directories, ``-`` (paths on stdin) or raw bytes.

Input problems (missing file, unreadable, empty, too large) become per-item errors here,
before anything reaches the server, so one bad file never fails a whole batch. Reading is
lazy: a directory of a million photos streams instead of being loaded at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TextIO

from inception_svm_client.config import DEFAULT_MAX_IMAGE_BYTES

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp"})
STDIN_MARKER = "-"


def bundled_cars_dir() -> Path:
    """The demo photos shipped with the client: ``train/<label>/`` and ``unlabeled/``."""
    return Path(str(files("inception_svm_client") / "data" / "cars"))


@dataclass(frozen=True)
class ImageInput:
    """One image to featurize: its encoded bytes, or why it could not be read."""

    key: str
    data: bytes | None
    error: str | None = None


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def images_in_directory(directory: Path) -> list[Path]:
    """Image files under ``directory`` (recursive), sorted so runs are reproducible."""
    return sorted(p for p in directory.rglob("*") if is_image_file(p))


def expand_sources(sources: Iterable[str], stdin: TextIO | None = None) -> Iterator[str]:
    """Paths in order: directories expanded, ``-`` replaced by the paths read from stdin.

    Explicit file paths are passed through unchanged (even without an image suffix, and
    even when missing: reading reports that per item)."""
    for source in sources:
        if source == STDIN_MARKER:
            if stdin is None:
                raise ValueError("'-' given but no stdin available")
            yield from (line.strip() for line in stdin if line.strip())
        elif Path(source).is_dir():
            yield from (str(p) for p in images_in_directory(Path(source)))
        else:
            yield source


def check_size(key: str, data: bytes, max_bytes: int) -> ImageInput:
    if not data:
        return ImageInput(key, None, "empty file")
    if len(data) > max_bytes:
        return ImageInput(key, None, f"{len(data)} bytes is over the {max_bytes}-byte limit")
    return ImageInput(key, data)


def read_image(path: str, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> ImageInput:
    try:
        file_path = Path(path)
        size = file_path.stat().st_size
        if size > max_bytes:
            return ImageInput(path, None, f"{size} bytes is over the {max_bytes}-byte limit")
        return check_size(path, file_path.read_bytes(), max_bytes)
    except OSError as error:
        return ImageInput(path, None, f"cannot read: {error.strerror or error}")


def path_inputs(
    sources: Iterable[str],
    *,
    stdin: TextIO | None = None,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
) -> Iterator[ImageInput]:
    for path in expand_sources(sources, stdin):
        yield read_image(path, max_bytes)


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
