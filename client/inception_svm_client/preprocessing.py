"""Encoded JPEG → the [224, 224, 3] float32 input the export's graph computes, without TF.

Why on the client: on a GPU pod the network is cheap and the in-graph JPEG decode and
resize run on the pod's CPU (TF has no GPU JPEG decoder), so the pod is CPU-bound long
before its GPU is busy; clients are many and cheap. ``--preprocess client`` moves that
work here and sends the ``predict_pixels`` signature the very pixels the server would have
computed (docs/performance-gpu-feeding.md).

The reference is ``inception_svm_export.preprocessing.preprocess_image``, step by step:

- decode with libjpeg-turbo (simplejpeg) as TF does: the fast integer IDCT
  (``INTEGER_FAST``, TF's default ``dct_method``) and fancy upsampling (TF's default);
  Pillow's accurate IDCT differs by up to 23 levels;
- the middle square (offsets rounded down), then ``tf.image.central_crop``'s 87.5 % box
  with its own float64 arithmetic (the export's ``crop_window``);
- ``convert_image_dtype`` (uint8 × float32(1/255)), TF1 ``ResizeBilinear``
  (align_corners=False, no half-pixel centres) in float32, then ``(x - 0.5) * 2``.

Only what is proven identical is done here (tests/client/test_preprocessing_identity.py):
baseline and progressive YCbCr or grayscale JPEGs. Anything else (CMYK/YCCK JPEGs, which
libjpeg-turbo converts 1 level differently, PNG, GIF, BMP, a JPEG simplejpeg refuses or
decodes with a warning, one over the server's pixel limit) is not preprocessed:
``client_pixels`` returns None and the caller sends the bytes, so the server decodes, and
errors, exactly as before.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

# Where the image is turned into the network's input: the served graph (encoded bytes to
# ``serving_default``) or this module (pixels to ``predict_pixels``).
Preprocess = Literal["server", "client"]
PREPROCESS_CHOICES: tuple[Preprocess, ...] = ("server", "client")

IMAGE_SIZE = 224
CENTRAL_FRACTION = 0.875
# The export's MAX_IMAGE_PIXELS: a larger image is left to the server, which refuses it
# with its own INVALID_ARGUMENT message.
MAX_IMAGE_PIXELS = 8192 * 8192
# JPEG colour spaces whose conversion to RGB libjpeg-turbo does exactly as TF's libjpeg.
_EXACT_COLORSPACES = frozenset({"YCbCr", "Gray"})
_JPEG_MAGIC = b"\xff\xd8\xff"
_UINT8_SCALE = np.float32(1.0 / 255.0)  # convert_image_dtype's scale, as a float32 tensor


def is_jpeg(data: bytes) -> bool:
    """TF's ``decode_image`` sniffs these three bytes to take its JPEG path."""
    return data[:3] == _JPEG_MAGIC


def client_pixels(data: bytes) -> np.ndarray | None:
    """float32 [224, 224, 3] in [-1, 1], or None when this image must go to the server."""
    if not is_jpeg(data):
        return None
    import simplejpeg  # the client's one native image dependency, imported when used

    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        if colorspace not in _EXACT_COLORSPACES or height * width > MAX_IMAGE_PIXELS:
            return None
        image = simplejpeg.decode_jpeg(
            data, colorspace="RGB", fastdct=True, fastupsample=False, strict=True
        )
    except ValueError:  # corrupt, truncated, unsupported: the server gives the verdict
        return None
    return network_input(image)


def crop_window(height: int, width: int) -> tuple[int, int, int]:
    """(top, left, size) of the square the network sees: the export's ``crop_window``
    (the middle square, then central_crop's float64 start, truncated; size = side - 2 start)."""
    side = min(height, width)
    start = int((float(side) - float(side) * CENTRAL_FRACTION) / 2)
    size = side - 2 * start
    return (height - side) // 2 + start, (width - side) // 2 + start, size


def _legacy_bilinear_weights(in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF's ``compute_interpolation_weights`` with the LegacyScaler: in = out * scale in
    float32, lower = floor(in), upper = min(ceil(in), in_size - 1), lerp = in - floor(in)."""
    scale = np.float32(in_size) / np.float32(IMAGE_SIZE)
    positions = np.arange(IMAGE_SIZE, dtype=np.float32) * scale
    floors = np.floor(positions)
    lower = np.maximum(floors.astype(np.int64), 0)
    upper = np.minimum(np.ceil(positions).astype(np.int64), in_size - 1)
    return lower, upper, (positions - floors).astype(np.float32)


def network_input(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] decoded image → the export's [224, 224, 3] float32 network input."""
    top, left, size = crop_window(image.shape[0], image.shape[1])
    crop = image[top : top + size, left : left + size]
    y_lower, y_upper, y_lerp = _legacy_bilinear_weights(size)
    x_lower, x_upper, x_lerp = _legacy_bilinear_weights(size)
    # Only the rows and columns the resize reads are converted: convert_image_dtype is
    # per element, so converting them alone gives the same floats as converting the crop.
    top_rows, bottom_rows = crop[y_lower], crop[y_upper]

    def as_float(pixels: np.ndarray) -> np.ndarray:
        return pixels.astype(np.float32) * _UINT8_SCALE

    top_left, top_right = as_float(top_rows[:, x_lower]), as_float(top_rows[:, x_upper])
    bottom_left, bottom_right = as_float(bottom_rows[:, x_lower]), as_float(bottom_rows[:, x_upper])
    x_weight = x_lerp[np.newaxis, :, np.newaxis]
    upper_row = top_left + (top_right - top_left) * x_weight
    lower_row = bottom_left + (bottom_right - bottom_left) * x_weight
    resized = upper_row + (lower_row - upper_row) * y_lerp[:, np.newaxis, np.newaxis]
    result: np.ndarray = (resized - np.float32(0.5)) * np.float32(2.0)
    return result
