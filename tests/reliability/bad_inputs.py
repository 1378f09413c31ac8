"""The catalogue of awkward inputs a production classifier meets, generated on demand.

Every case says up front whether the pipeline must *classify* it (an unusual but valid
image: the featurizer must normalise it to 3-channel RGB) or *refuse* it with a per-file
error. Keeping that verdict next to the generator means a test can never silently
"pass" a case by treating a refusal as acceptable for a valid image, or vice versa.

The two large cases are built cheaply: the decompression bomb is a genuine, fully valid
20000x20000 PNG streamed row by row through zlib (a few hundred KB on disk, 400 M pixels
once decoded), and the 200 MB file is sparse, so neither costs memory or disk here.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from PIL import Image

BOMB_SIDE = 20_000
OVERSIZED_BYTES = 200 * 1024 * 1024


class Verdict(Enum):
    CLASSIFY = "classify"
    REFUSE = "refuse"


@dataclass(frozen=True)
class BadInput:
    """One case: the file name it is written under, what must happen, how to build it, and
    what makes it awkward (for failure messages)."""

    name: str
    verdict: Verdict
    build: Callable[[Path, bytes], None]
    why: str


def _photo_rgb(photo_jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(photo_jpeg)).convert("RGB")


def _zero_bytes(path: Path, photo_jpeg: bytes) -> None:
    path.write_bytes(b"")


def _truncated_jpeg(path: Path, photo_jpeg: bytes) -> None:
    path.write_bytes(photo_jpeg[: len(photo_jpeg) // 3])


def _text_named_jpg(path: Path, photo_jpeg: bytes) -> None:
    path.write_text("this is not an image, only a text file with a .jpg name\n" * 20)


def _png_with_alpha(path: Path, photo_jpeg: bytes) -> None:
    rgba = _photo_rgb(photo_jpeg).convert("RGBA")
    alpha = np.linspace(0, 255, rgba.width, dtype=np.uint8)[None, :].repeat(rgba.height, 0)
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(path, format="PNG")


def _png_16_bit(path: Path, photo_jpeg: bytes) -> None:
    grey = np.asarray(_photo_rgb(photo_jpeg).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(path, format="PNG")


def _grayscale_jpeg(path: Path, photo_jpeg: bytes) -> None:
    _photo_rgb(photo_jpeg).convert("L").save(path, format="JPEG", quality=90)


def _cmyk_jpeg(path: Path, photo_jpeg: bytes) -> None:
    _photo_rgb(photo_jpeg).convert("CMYK").save(path, format="JPEG", quality=90)


def _animated_gif(path: Path, photo_jpeg: bytes) -> None:
    first = _photo_rgb(photo_jpeg).resize((224, 224))
    frames = [first, first.rotate(90), first.rotate(180)]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=100)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _decompression_bomb(path: Path, photo_jpeg: bytes) -> None:
    """A valid 8-bit greyscale PNG of BOMB_SIDE^2 pixels, written without ever holding it."""
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 8, 0, 0, 0, 0)
    row = b"\x00" * (BOMB_SIDE + 1)  # filter byte 0 + one black row
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * 500) for _ in range(BOMB_SIDE // 500)]
    chunks.append(compressor.flush())
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_png_chunk(b"IHDR", header))
        out.write(_png_chunk(b"IDAT", b"".join(chunks)))
        out.write(_png_chunk(b"IEND", b""))


def _oversized_file(path: Path, photo_jpeg: bytes) -> None:
    """A 200 MB file that starts like a JPEG; sparse, so it costs no disk."""
    with path.open("wb") as out:
        out.write(photo_jpeg[:4096])
        out.truncate(OVERSIZED_BYTES)


BAD_INPUTS: tuple[BadInput, ...] = (
    BadInput("zero_bytes.jpg", Verdict.REFUSE, _zero_bytes, "empty file"),
    BadInput("truncated.jpg", Verdict.REFUSE, _truncated_jpeg, "JPEG cut at a third"),
    BadInput("text_named.jpg", Verdict.REFUSE, _text_named_jpg, "text, not an image"),
    BadInput("alpha.png", Verdict.CLASSIFY, _png_with_alpha, "RGBA: alpha must be dropped"),
    BadInput("sixteen_bit.png", Verdict.CLASSIFY, _png_16_bit, "16-bit greyscale PNG"),
    BadInput("grayscale.jpg", Verdict.CLASSIFY, _grayscale_jpeg, "1-channel JPEG"),
    BadInput("cmyk.jpg", Verdict.CLASSIFY, _cmyk_jpeg, "4-channel Adobe CMYK JPEG"),
    BadInput("animated.gif", Verdict.CLASSIFY, _animated_gif, "3 frames: first one is used"),
    BadInput("bomb.png", Verdict.REFUSE, _decompression_bomb, "20000x20000 pixels declared"),
    BadInput("oversized.jpg", Verdict.REFUSE, _oversized_file, "200 MB on disk"),
)


def write_bad_inputs(directory: Path, photo_jpeg: bytes) -> dict[str, Path]:
    """Write every case into ``directory`` and return its path by case name."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for case in BAD_INPUTS:
        path = directory / case.name
        case.build(path, photo_jpeg)
        paths[case.name] = path
    return paths
