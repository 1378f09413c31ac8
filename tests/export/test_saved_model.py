"""The exported SavedModel as TF Serving and the client see it (the session's shared export)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import prediction_log_pb2

from inception_svm_export.preprocessing import MAX_IMAGE_PIXELS
from inception_svm_export.saved_model import IMAGENET_TOP_K, next_version
from inception_svm_export.warmup import WARMUP_FILE


@pytest.fixture(scope="module")
def photo(bundled_photos: Path) -> Image.Image:
    path = bundled_photos / "cars" / "train" / "classic" / "classic-14543545060_0467af947a_z.jpg"
    return Image.open(path).convert("RGB")


def _classify(model: tf.Module, images: list[bytes]) -> np.ndarray:
    return model.signatures["serving_default"](images=tf.constant(images, tf.string))[
        "logits"
    ].numpy()


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_saved_model_cli_shows_the_serving_contract(version_dir: Path) -> None:
    cli = Path(sys.executable).with_name("saved_model_cli")
    shown = subprocess.run(
        [str(cli), "show", "--all", "--dir", str(version_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    serving = shown.split("signature_def['serving_default']:")[1].split("signature_def[")[0]
    pixels = shown.split("signature_def['predict_pixels']:")[1].split("signature_def[")[0]
    assert (
        "inputs['images'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)\n" in serving
    )
    assert (
        "inputs['pixels'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 224, 224, 3)\n"
        in (pixels)
    )
    for signature in (serving, pixels):
        assert (
            "outputs['logits'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 1001)\n"
            in (signature)
        )
        assert "Method name is: tensorflow/serving/predict" in signature
        assert signature.count("inputs[") == 1 and signature.count("outputs[") == 1
    # Issue 19: the top-k and pre-logits signatures beside the unchanged contract.
    imagenet = shown.split("signature_def['classify_imagenet']:")[1].split("signature_def[")[0]
    features = shown.split("signature_def['features']:")[1].split("signature_def[")[0]
    for signature, output, dtype, shape in [
        (imagenet, "classes", "DT_INT32", f"(-1, {IMAGENET_TOP_K})"),
        (imagenet, "class_names", "DT_STRING", f"(-1, {IMAGENET_TOP_K})"),
        (imagenet, "probabilities", "DT_FLOAT", f"(-1, {IMAGENET_TOP_K})"),
        (imagenet, "checkpoint", "DT_STRING", "(-1)"),
        (features, "prelogits", "DT_FLOAT", "(-1, 1024)"),
        (features, "logits", "DT_FLOAT", "(-1, 1001)"),
    ]:
        spec = f"outputs['{output}'] tensor_info:\n        dtype: {dtype}\n        shape: {shape}\n"
        assert spec in signature


def test_warmup_requests_replay_against_the_model(version_dir: Path, model: tf.Module) -> None:
    records = list(tf.data.TFRecordDataset(str(version_dir / "assets.extra" / WARMUP_FILE)))
    assert len(records) >= 2
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        images = tf.make_ndarray(request.inputs["images"])
        logits = _classify(model, list(images))
        assert logits.shape == (len(images), 1001) and np.isfinite(logits).all()


def test_metadata_and_pixel_limit_travel_with_the_model(
    version_dir: Path, model: tf.Module
) -> None:
    metadata = json.loads((version_dir / "assets.extra" / "export_metadata.json").read_text())
    assert metadata["fold_batchnorm"] is True
    assert metadata["max_image_pixels"] == MAX_IMAGE_PIXELS == int(model.max_image_pixels.numpy())
    assert not [p for p in version_dir.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "signature, key", [("serving_default", "images"), ("predict_pixels", "pixels")]
)
def test_empty_batch_returns_empty_logits(model: tf.Module, signature: str, key: str) -> None:
    empty = tf.zeros([0], tf.string) if key == "images" else tf.zeros([0, 224, 224, 3])
    logits = model.signatures[signature](**{key: empty})["logits"]
    assert logits.shape == (0, 1001) and logits.dtype == tf.float32


def test_every_supported_encoding_decodes_to_three_channels(
    model: tf.Module, photo: Image.Image
) -> None:
    small = photo.resize((160, 120))
    second_frame = small.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    gray16 = Image.fromarray(np.asarray(small.convert("L"), np.uint16) * 257)  # mode I;16
    encodings = {
        "png_rgb": _encode(small, "PNG"),
        "bmp_rgb": _encode(small, "BMP"),
        "jpeg_gray": _encode(small.convert("L"), "JPEG"),
        "jpeg_cmyk": _encode(small.convert("CMYK"), "JPEG"),
        "png_rgba": _encode(small.convert("RGBA"), "PNG"),
        "png_gray16": _encode(gray16, "PNG"),
        "png_palette": _encode(small.convert("P"), "PNG"),
        "gif_animated": _encode(small, "GIF", save_all=True, append_images=[second_frame]),
    }
    logits = dict(zip(encodings, _classify(model, list(encodings.values())), strict=True))
    assert all(np.isfinite(v).all() for v in logits.values())
    # Lossless encodings of the same pixels must give the same logits.
    np.testing.assert_allclose(logits["bmp_rgb"], logits["png_rgb"], atol=1e-5)
    np.testing.assert_allclose(logits["png_rgba"], logits["png_rgb"], atol=1e-5)
    gif_first_frame = Image.open(io.BytesIO(encodings["gif_animated"])).convert("RGB")
    (first_frame_logits,) = _classify(model, [_encode(gif_first_frame, "PNG")])
    np.testing.assert_allclose(logits["gif_animated"], first_frame_logits, atol=1e-5)
    # 16-bit gray is scaled to 8 bits, not clipped: it matches its own 8-bit version.
    (gray8_logits,) = _classify(model, [_encode(small.convert("L"), "PNG")])
    np.testing.assert_allclose(logits["png_gray16"], gray8_logits, atol=1e-5)


def test_different_photos_give_different_logits(model: tf.Module, bundled_photos: Path) -> None:
    paths = sorted((bundled_photos / "cars" / "unlabeled").glob("*.jpg"))[:3]
    logits = _classify(model, [p.read_bytes() for p in paths])
    assert np.abs(logits[0] - logits[1]).max() > 1e-2
    assert np.abs(logits[1] - logits[2]).max() > 1e-2


def _oversized_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0" * 4


def _oversized_jpeg(photo: Image.Image) -> bytes:
    data = bytearray(_encode(photo.resize((64, 48)), "JPEG"))
    sof = data.index(b"\xff\xc0")  # baseline SOF0: length(2) precision(1) height(2) width(2)
    data[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)
    return bytes(data)


def _oversized_gif() -> bytes:
    return b"GIF89a" + struct.pack("<HH", 40000, 40000) + b"\0" * 20


def _oversized_bmp() -> bytes:
    return b"BM" + b"\0" * 16 + struct.pack("<ii", 10000, -10000) + b"\0" * 40


@pytest.mark.parametrize(
    "make_image, expected",
    [
        (lambda photo: _oversized_png(), "20000x20000 pixels exceeds the limit"),
        (_oversized_jpeg, "30000x30000 pixels exceeds the limit"),
        (lambda photo: _oversized_gif(), "40000x40000 pixels exceeds the limit"),
        (lambda photo: _oversized_bmp(), "10000x10000 pixels exceeds the limit"),
        (lambda photo: b"definitely not an image", "Unknown image file format"),
        (lambda photo: b"", "Input is empty"),
        (lambda photo: _encode(photo, "JPEG")[:600], ""),
    ],
    ids=["png-bomb", "jpeg-bomb", "gif-bomb", "bmp-bomb", "garbage", "empty", "truncated-jpeg"],
)
def test_bad_images_raise_invalid_argument(
    model: tf.Module, photo: Image.Image, make_image: Callable[[Image.Image], bytes], expected: str
) -> None:
    good = _encode(photo.resize((64, 64)), "JPEG")
    with pytest.raises(tf.errors.InvalidArgumentError, match=expected) as raised:
        _classify(model, [good, make_image(photo)])
    if "exceeds" in expected:
        assert "image 1: " in raised.value.message and str(MAX_IMAGE_PIXELS) in raised.value.message


def test_next_version_skips_non_numeric_entries(tmp_path: Path) -> None:
    assert next_version(tmp_path / "absent") == 1
    for name in ("1", "7", ".export-abc", "notes"):
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == 8
