"""``--preprocess client`` claims the export's network input without TensorFlow: the very
pixels TF decodes, and the crop, resize and scaling of ``preprocess_image`` to float32
rounding. Proven here against the export's own graph on every bundled photo and on the
encodings a client meets (grayscale, tiny, panorama, portrait, progressive, 4:4:4/4:2:2,
odd sizes), and the formats it does not reproduce (CMYK, PNG incl. 16-bit, GIF incl.
animated, corrupt, truncated, over the pixel limit) are left to the server.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from inception_svm_client import preprocessing
from inception_svm_client.preprocessing import client_pixels, crop_window, network_input
from inception_svm_export.preprocessing import (
    MAX_IMAGE_PIXELS,
    preprocess_batch,
    preprocess_image,
)
from inception_svm_export.preprocessing import crop_window as graph_crop_window
from tests.paths import DATA_DIR, car_photos

# float32 rounding of the resize (TF's kernel may fuse multiply-adds): the probe saw 2.4e-7.
PIXEL_TOLERANCE = 1e-6


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _photo() -> Image.Image:
    return Image.open(car_photos()[0]).convert("RGB")


def _odd_jpegs() -> dict[str, bytes]:
    photo = _photo()
    odd = photo.resize((637, 419))
    return {
        "gray": _encode(odd.convert("L"), "JPEG", quality=90),
        "tiny_17x9": _encode(photo.resize((17, 9)), "JPEG"),
        "one_pixel": _encode(photo.resize((1, 1)), "JPEG"),
        "panorama_4000x500": _encode(photo.resize((4000, 500)), "JPEG", quality=85),
        "portrait_301x533": _encode(photo.resize((301, 533)), "JPEG", quality=90),
        "progressive": _encode(odd, "JPEG", quality=85, progressive=True),
        "subsampling_444": _encode(odd, "JPEG", quality=95, subsampling="4:4:4"),
        "subsampling_422": _encode(odd, "JPEG", quality=90, subsampling="4:2:2"),
        "optimized": _encode(odd, "JPEG", quality=80, optimize=True),
        "large_2049x1537": _encode(photo.resize((2049, 1537)), "JPEG", quality=90),
        "exactly_224": _encode(photo.resize((224, 224)), "JPEG", quality=90),
    }


def _exact_inputs() -> dict[str, bytes]:
    bundled = car_photos() + sorted((DATA_DIR / "samples").glob("*.jpg"))
    return {path.name: path.read_bytes() for path in bundled} | _odd_jpegs()


def _graph_pixels(images: list[bytes]) -> np.ndarray:
    function = tf.function(lambda batch: preprocess_batch(batch, preprocess_image))
    return function(tf.constant(images)).numpy()


@pytest.fixture(scope="module")
def exact_inputs() -> dict[str, bytes]:
    return _exact_inputs()


def test_client_decodes_the_same_pixels_as_tensorflow(exact_inputs: dict[str, bytes]) -> None:
    import simplejpeg

    for name, data in exact_inputs.items():
        ours = simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=True, fastupsample=False)
        theirs = tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
        assert ours.shape == theirs.shape, name
        assert np.array_equal(ours, theirs), f"{name}: max diff {np.abs(ours - theirs).max()}"


def test_client_network_input_matches_the_export_graph(exact_inputs: dict[str, bytes]) -> None:
    assert len(exact_inputs) == 28 + 11
    expected = _graph_pixels(list(exact_inputs.values()))
    for (name, data), graph in zip(exact_inputs.items(), expected, strict=True):
        ours = client_pixels(data)
        assert ours is not None, f"{name} was not preprocessed on the client"
        assert ours.dtype == np.float32 and ours.shape == (224, 224, 3)
        worst = float(np.abs(ours - graph).max())
        assert worst <= PIXEL_TOLERANCE, f"{name}: max |diff| {worst}"


@pytest.mark.parametrize(
    ("height", "width"),
    [(1, 1), (9, 17), (224, 224), (257, 256), (419, 637), (500, 4000), (3000, 4000), (8, 9)],
)
def test_crop_window_is_the_export_arithmetic(height: int, width: int) -> None:
    top, left, size = graph_crop_window(tf.constant(height), tf.constant(width)).numpy()[:3]
    assert crop_window(height, width) == (top, left, size)


def test_resize_alone_matches_resize_bilinear_on_random_pixels() -> None:
    """Every crop size from 1 to 700 (down- and upsampling), independent of any decoder."""
    rng = np.random.default_rng(0)
    for size in [1, 2, 3, 7, 100, 195, 223, 224, 225, 448, 449, 700]:
        image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        graph = tf.function(
            lambda batch: preprocess_batch(
                batch, lambda data, _: _graph_from_uint8(tf.io.decode_png(data, channels=3))
            )
        )(tf.constant([_encode(Image.fromarray(image), "PNG")])).numpy()[0]
        worst = float(np.abs(network_input(image) - graph).max())
        assert worst <= PIXEL_TOLERANCE, f"size {size}: {worst}"


def _graph_from_uint8(image: tf.Tensor) -> tf.Tensor:
    from inception_svm_export.preprocessing import crop_middle_square, inception_eval_preprocessing

    return inception_eval_preprocessing(crop_middle_square(image))


def _sixteen_bit_png() -> bytes:
    array = (np.arange(64 * 48 * 3, dtype=np.uint16).reshape(48, 64, 3) * 13).astype(">u2")
    tensor = tf.constant(array.astype(np.uint16))
    return bytes(tf.io.encode_png(tensor).numpy())


def _oversized_jpeg_header() -> bytes:
    """A valid JPEG whose SOF0 claims 9000×9000 pixels, more than the export accepts."""
    data = bytearray(_encode(_photo().resize((16, 16)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 9000, 9000)
    return bytes(data)


def _animated_gif() -> bytes:
    frames = [_photo().resize((64, 48)), _photo().resize((64, 48)).rotate(90)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def test_formats_not_reproduced_exactly_are_left_to_the_server() -> None:
    photo = _photo().resize((300, 200))
    jpeg = _encode(photo, "JPEG")
    fallbacks = {
        "cmyk_jpeg": _encode(photo.convert("CMYK"), "JPEG", quality=90),
        "png": _encode(photo, "PNG"),
        "png_16_bit": _sixteen_bit_png(),
        "gif_animated": _animated_gif(),
        "bmp": _encode(photo, "BMP"),
        "webp_or_other": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        "truncated_jpeg": jpeg[: len(jpeg) // 2],
        "corrupt_jpeg": jpeg[:200] + bytes(100) + jpeg[300:],
        "not_an_image": b"\xff\xd8\xff this is text",
        "empty": b"",
        "over_the_pixel_limit": _oversized_jpeg_header(),
    }
    assert preprocessing.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS
    for name, data in fallbacks.items():
        assert client_pixels(data) is None, name
    assert client_pixels(jpeg) is not None


def test_cmyk_is_a_fallback_because_it_differs() -> None:
    """Why CMYK goes to the server: libjpeg-turbo's CMYK→RGB is not TF's, by a level."""
    import simplejpeg

    data = _encode(_photo().resize((300, 200)).convert("CMYK"), "JPEG", quality=90)
    assert simplejpeg.decode_jpeg_header(data)[2] == "CMYK"
    theirs = tf.io.decode_jpeg(data, channels=3).numpy().astype(int)
    ours = simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=True, fastupsample=False)
    assert not np.array_equal(ours.astype(int), theirs)
