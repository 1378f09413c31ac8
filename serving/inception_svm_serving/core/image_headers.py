"""Image width and height read from the file header, without decoding: the one parser both
the exported graph and the server's admission control use.

The SavedModel's preprocessing (``inception_svm_export.preprocessing``) checks the pixel count
with ``header_dimensions`` before it decodes, and the server measures a request's decoded
pixels with ``encoded_image_sizes`` before admitting it; both run the same TensorFlow ops, so
admission and the graph can never disagree on an image's size. It lives in serving because
the dependencies run export -> serving -> client: the exporter may import it, the server must
never import the exporter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_GIF_MAGIC = b"GIF"
_BMP_MAGIC = b"BM"


def header_dimensions(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(width, height) as int64 from the file header, (0, 0) when the format is unknown.

    Unknown or truncated headers are left for the decoder to reject with its own message.
    """
    length = tf.strings.length(data)

    def has_magic(magic: bytes, min_length: int) -> tf.Tensor:
        return _has_magic(data, magic, min_length, length)

    def read_ints(pos: int, dtype: tf.DType, little_endian: bool) -> tf.Tensor:
        raw = tf.io.decode_raw(tf.strings.substr(data, pos, 2 * dtype.size), dtype, little_endian)
        return tf.abs(tf.cast(raw, tf.int64))

    def jpeg() -> tf.Tensor:
        height_width = tf.cast(tf.image.extract_jpeg_shape(data)[:2], tf.int64)
        return tf.reverse(height_width, [0])

    dims = tf.case(
        [
            (is_jpeg(data), jpeg),
            (has_magic(_PNG_MAGIC, 24), lambda: read_ints(16, tf.int32, False)),  # IHDR
            (has_magic(_GIF_MAGIC, 10), lambda: read_ints(6, tf.uint16, True)),  # screen
            (has_magic(_BMP_MAGIC, 26), lambda: read_ints(18, tf.int32, True)),  # DIB header
        ],
        default=lambda: tf.zeros([2], tf.int64),
        exclusive=False,
    )
    return dims[0], dims[1]


def is_jpeg(data: tf.Tensor) -> tf.Tensor:
    return _has_magic(data, _JPEG_MAGIC, 3)


def _has_magic(
    data: tf.Tensor, magic: bytes, min_length: int, length: tf.Tensor | None = None
) -> tf.Tensor:
    length = tf.strings.length(data) if length is None else length
    return tf.logical_and(
        length >= min_length, tf.equal(tf.strings.substr(data, 0, len(magic)), magic)
    )


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
def _header_sizes(images: tf.Tensor) -> tf.Tensor:
    return tf.map_fn(
        lambda data: tf.stack(header_dimensions(data)), images, fn_output_signature=tf.int64
    )


def _as_bytes(value: Any) -> bytes:
    """An element of a string tensor as bytes; anything else counts as no image (b"")."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace")
    return b""


def encoded_image_sizes(values: np.ndarray) -> list[tuple[int, int]]:
    """(width, height) of a string tensor's elements. What is not a recognisable image header
    counts (0, 0): the decoder rejects it with its own message."""
    flat = [_as_bytes(v) for v in np.asarray(values, dtype=object).reshape(-1)]
    if not flat:
        return []
    try:
        sizes = _header_sizes(tf.constant(flat, tf.string)).numpy()
        return [(int(w), int(h)) for w, h in sizes]
    except tf.errors.InvalidArgumentError:  # a corrupt JPEG header: read image by image
        result = []
        for item in flat:
            try:
                width, height = _header_sizes(tf.constant([item], tf.string)).numpy()[0]
                result.append((int(width), int(height)))
            except tf.errors.InvalidArgumentError:
                result.append((0, 0))
        return result
