"""``preprocess_image_crop_decode`` claims the export's pixels exactly while decoding only the
crop window of a JPEG; this proves it on every bundled photo and on the awkward encodings
(odd sizes that split MCUs, 4:4:4/4:2:2/4:2:0 chroma, progressive, greyscale, CMYK, portrait,
non-JPEG), down to identical logits through the exported network. The DCT-scaled variant
makes no such claim; it is only checked to stay close (its drift is reported by make bench).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from inception_svm_export.preprocessing import (
    DEFAULT_PREPROCESS,
    preprocess_batch,
    preprocess_image,
    preprocess_image_crop_decode,
    preprocess_image_dct_scaled,
)
from tests.paths import DATA_DIR, car_photos

Preprocess = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _awkward_encodings() -> dict[str, bytes]:
    photo = Image.open(car_photos()[0]).convert("RGB")
    odd = photo.resize((637, 419))  # neither side a multiple of 8 or 16
    portrait = photo.resize((301, 533)).transpose(Image.Transpose.ROTATE_90).resize((301, 533))
    return {
        "jpeg_420_odd_size": _encode(odd, "JPEG", quality=90, subsampling="4:2:0"),
        "jpeg_422": _encode(odd, "JPEG", quality=90, subsampling="4:2:2"),
        "jpeg_444": _encode(odd, "JPEG", quality=95, subsampling="4:4:4"),
        "jpeg_progressive": _encode(odd, "JPEG", quality=85, progressive=True),
        "jpeg_optimized_restart": _encode(odd, "JPEG", quality=80, optimize=True),
        "jpeg_portrait": _encode(portrait, "JPEG", quality=90),
        "jpeg_gray": _encode(odd.convert("L"), "JPEG", quality=90),
        "jpeg_cmyk": _encode(odd.convert("CMYK"), "JPEG", quality=90),
        "jpeg_tiny": _encode(photo.resize((17, 9)), "JPEG"),
        "jpeg_large": _encode(photo.resize((2049, 1537)), "JPEG", quality=90),
        "png_rgba": _encode(odd.convert("RGBA"), "PNG"),
        "bmp": _encode(odd, "BMP"),
        "gif": _encode(odd, "GIF"),
    }


def _every_input() -> dict[str, bytes]:
    bundled = car_photos() + sorted((DATA_DIR / "samples").glob("*.jpg"))
    return {path.name: path.read_bytes() for path in bundled} | _awkward_encodings()


def _pixels(preprocess: Preprocess, images: list[bytes]) -> np.ndarray:
    function = tf.function(lambda batch: preprocess_batch(batch, preprocess))
    return function(tf.constant(images)).numpy()


@pytest.fixture(scope="module")
def inputs() -> dict[str, bytes]:
    return _every_input()


@pytest.fixture(scope="module")
def exported_pixels(inputs: dict[str, bytes]) -> np.ndarray:
    return _pixels(preprocess_image, list(inputs.values()))


def test_crop_decode_gives_the_exported_pixels_and_logits(
    inputs: dict[str, bytes], exported_pixels: np.ndarray, model_base_path: Path
) -> None:
    assert len(inputs) == 28 + 13  # 27 car photos, the cat sample, the awkward encodings
    cropped = _pixels(preprocess_image_crop_decode, list(inputs.values()))
    for name, expected, actual in zip(inputs, exported_pixels, cropped, strict=True):
        np.testing.assert_array_equal(actual, expected, err_msg=name)
    network = tf.saved_model.load(str(model_base_path / "1")).signatures["predict_pixels"]
    served = network(pixels=tf.constant(exported_pixels))["logits"].numpy()
    via_crop = network(pixels=tf.constant(cropped))["logits"].numpy()
    np.testing.assert_array_equal(via_crop, served)


def test_the_export_serves_the_crop_decode_with_the_reference_logits(
    inputs: dict[str, bytes], exported_pixels: np.ndarray, model_base_path: Path
) -> None:
    """The crop-window decode is the export's default (issue 26): its serving_default gives,
    bit for bit, the logits of ``preprocess_image``'s pixels through the network."""
    assert DEFAULT_PREPROCESS is preprocess_image_crop_decode
    model = tf.saved_model.load(str(model_base_path / "1"))
    network = model.signatures["predict_pixels"]
    reference = network(pixels=tf.constant(exported_pixels))["logits"].numpy()
    served = model.signatures["serving_default"](images=tf.constant(list(inputs.values())))
    np.testing.assert_array_equal(served["logits"].numpy(), reference)


def test_crop_decode_keeps_the_pixel_limit_and_decoder_errors() -> None:
    sof_jpeg = bytearray(_encode(Image.new("RGB", (64, 48)), "JPEG"))
    sof = sof_jpeg.index(b"\xff\xc0")
    sof_jpeg[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") * 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="30000x30000 pixels exceeds"):
        _pixels(preprocess_image_crop_decode, [bytes(sof_jpeg)])
    with pytest.raises(tf.errors.InvalidArgumentError):
        _pixels(preprocess_image_crop_decode, [b"definitely not an image"])


def test_dct_scaled_decode_only_changes_large_jpegs(
    inputs: dict[str, bytes], exported_pixels: np.ndarray
) -> None:
    """Under 512 pixels a side nothing is scaled (same pixels); the 2049x1537 JPEG is, and
    its pixels move (the scaled IDCT averages where bilinear resizing samples), but it stays
    the same picture."""
    names = list(inputs)
    scaled = _pixels(preprocess_image_dct_scaled, list(inputs.values()))
    exported = exported_pixels
    large = names.index("jpeg_large")
    for index, name in enumerate(names):
        if index != large:
            np.testing.assert_array_equal(scaled[index], exported[index], err_msg=name)
    difference = np.abs(scaled[large] - exported[large])
    assert 0 < difference.mean() < 0.2  # unrelated photos differ by ~0.5
