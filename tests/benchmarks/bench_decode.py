"""Decode + preprocess on ONE CPU core, by photo size: how many cores a GPU pod needs.

On a GPU the network is cheap, but JPEG decoding, the square crop and the resize run on the
pod's CPU inside the same graph (TF has no GPU JPEG decoder), so CPU cores, not the GPU, can
cap a GPU pod. This measures images/s per core for the preprocessing of the export
(``preprocess_image``) and of its two faster variants (``preprocess_image_crop_decode``:
identical pixels; ``preprocess_image_dct_scaled``: changed numerics, with its logit drift).

It runs in its own process (``measure_decode_per_core`` starts it) pinned to one CPU with
TensorFlow's intra/inter-op pools at one thread each, timed in CPU seconds
(``tests.benchmarks.one_core``), so the rates are per core even on a busy machine. Alone:
``python -m tests.benchmarks.bench_decode --model-dir build/models/inception_v1/1``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.benchmarks.one_core import cpu_clock, one_thread_tensorflow, pin_to_one_core, run_json
from tests.benchmarks.results import BenchRow, at_least, at_most, interleaved_rates

# Photo sizes from a thumbnail to a 12 MP phone camera, all 4:3 landscape.
SIZES = ((320, 240), (640, 480), (1024, 768), (2048, 1536), (4000, 3000))
PHOTOS_PER_SIZE = 4
JPEG_QUALITY = 90  # with 4:2:0 chroma subsampling, what cameras and phones write
FULL, CROP, DCT = "full decode", "crop decode", "DCT-scaled decode"
VARIANTS = (FULL, CROP, DCT)
SECTION = "7 decode per core"
# The size the GPU sizing is quoted for: a typical upload from a phone app or a web form.
SIZING_SIZE = (1024, 768)


@dataclass(frozen=True)
class SizeResult:
    width: int
    height: int
    mean_jpeg_kb: float
    images_per_s: dict[str, float]  # per variant, one core
    crop_max_pixel_diff: float  # crop decode vs full decode, every generated photo
    dct_max_logit_drift: float | None  # DCT-scaled vs full decode (None without a model)
    dct_max_abs_logit: float | None


def photos_at_size(sources: Sequence[Path], width: int, height: int) -> list[bytes]:
    """The bundled photos cropped to 4:3 and resampled to ``width``×``height``, re-encoded
    as camera-like JPEGs. Upscaled photos are smoother than real ones and compress better,
    so large sizes decode somewhat faster than a real camera file of the same size."""
    from PIL import Image

    photos = []
    for path in sources[:PHOTOS_PER_SIZE]:
        image = Image.open(path).convert("RGB")
        crop_height = min(image.height, image.width * 3 // 4)
        crop_width = crop_height * 4 // 3
        left, top = (image.width - crop_width) // 2, (image.height - crop_height) // 2
        image = image.crop((left, top, left + crop_width, top + crop_height))
        image = image.resize((width, height), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling="4:2:0")
        photos.append(buffer.getvalue())
    return photos


def _measure(model_dir: Path | None, sources: Sequence[Path], min_seconds: float) -> list[Any]:
    import numpy as np
    import tensorflow as tf

    from inception_svm_export import preprocessing

    one_thread_tensorflow()
    functions: dict[str, Callable[[tf.Tensor, tf.Tensor], tf.Tensor]] = {
        FULL: preprocessing.preprocess_image,
        CROP: preprocessing.preprocess_image_crop_decode,
        DCT: preprocessing.preprocess_image_dct_scaled,
    }
    spec = [tf.TensorSpec([None], tf.string)]
    pipelines = {
        name: tf.function(
            lambda images, fn=fn: preprocessing.preprocess_batch(images, fn), input_signature=spec
        )
        for name, fn in functions.items()
    }
    batches = {size: tf.constant(photos_at_size(sources, *size)) for size in SIZES}
    calls = {
        (size, name): (lambda p=pipeline, b=batch: p(b).numpy(), int(batch.shape[0]))
        for size, batch in batches.items()
        for name, pipeline in pipelines.items()
    }
    rates = interleaved_rates(calls, min_seconds=min_seconds, clock=cpu_clock)
    network = None
    if model_dir is not None:
        network = tf.saved_model.load(str(model_dir)).signatures["predict_pixels"]
    results = []
    for size, batch in batches.items():
        pixels = {name: pipelines[name](batch) for name in VARIANTS}
        crop_diff = float(np.abs(pixels[CROP].numpy() - pixels[FULL].numpy()).max())
        drift = largest = None
        if network is not None:
            full = network(pixels=pixels[FULL])["logits"].numpy()
            scaled = network(pixels=pixels[DCT])["logits"].numpy()
            drift, largest = float(np.abs(scaled - full).max()), float(np.abs(full).max())
        results.append(
            SizeResult(
                width=size[0],
                height=size[1],
                mean_jpeg_kb=float(np.mean([len(b) for b in batch.numpy()]) / 1e3),
                images_per_s={name: rates[(size, name)] for name in VARIANTS},
                crop_max_pixel_diff=crop_diff,
                dct_max_logit_drift=drift,
                dct_max_abs_logit=largest,
            )
        )
    return results


def measure_decode_per_core(
    model_dir: Path | None, sources: Sequence[Path], min_seconds: float
) -> list[SizeResult]:
    """Run this module in a fresh process on one core; its rows come back as JSON."""
    args = ["--min-seconds", str(min_seconds)]
    args += ["--model-dir", str(model_dir)] if model_dir else []
    args += [str(path) for path in sources]
    return [SizeResult(**row) for row in run_json("tests.benchmarks.bench_decode", args)]


def cores_per_1000(images_per_s_per_core: float) -> float:
    """CPU cores that decode and preprocess 1,000 images/s."""
    return 1000.0 / images_per_s_per_core


def decode_rows(results: Sequence[SizeResult]) -> list[BenchRow]:
    """Per size: each variant's images/s on one core, the cores per 1,000 images/s the
    export's own preprocessing needs, the crop decode's speed-up and pixel difference
    (target 0: it claims identical pixels) and the DCT-scaled decode's logit drift."""
    rows = []
    for r in results:
        size = f"{r.width}x{r.height}"
        full = r.images_per_s[FULL]
        note = f"{r.mean_jpeg_kb:.0f} kB JPEG q{JPEG_QUALITY}"
        rows.append(BenchRow(SECTION, f"{size} {FULL}", full, "images/s/core", note=note))
        rows.append(
            BenchRow(SECTION, f"{size} cores per 1000 images/s", cores_per_1000(full), "cores")
        )
        crop = r.images_per_s[CROP]
        # Never slower (within the noise); at 320x240 there is little to skip.
        target, passed = at_least(crop / full, 0.95)
        note = f"{crop:.4g} images/s/core"
        rows.append(
            BenchRow(SECTION, f"{size} {CROP} / full", crop / full, "x", target, passed, note)
        )
        target, passed = at_most(r.crop_max_pixel_diff, 0.0)
        rows.append(
            BenchRow(
                SECTION,
                f"{size} {CROP} max |pixel diff|",
                r.crop_max_pixel_diff,
                "",
                target,
                passed,
            )
        )
        dct = r.images_per_s[DCT]
        drift = (
            f"logit drift {r.dct_max_logit_drift:.3g} of max |logit| {r.dct_max_abs_logit:.3g}"
            if r.dct_max_logit_drift is not None
            else ""
        )
        rows.append(BenchRow(SECTION, f"{size} {DCT} / full", dct / full, "x", note=drift))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("photos", nargs="*", type=Path, help="sources (default: bundled cars)")
    parser.add_argument("--model-dir", type=Path, help="SavedModel version dir, for drift")
    parser.add_argument("--min-seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="print JSON rows only")
    args = parser.parse_args(argv)
    core = pin_to_one_core()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sources = args.photos
    if not sources:
        from tests.paths import car_photos

        sources = car_photos()
    results = _measure(args.model_dir, sources, args.min_seconds)
    if args.json:
        print(json.dumps([asdict(r) for r in results]))
    else:
        print(f"one core (CPU {core}), TF intra/inter-op threads 1, CPU-time rates")
        for r in results:
            rates = ", ".join(f"{k} {v:.1f}/s" for k, v in r.images_per_s.items())
            print(f"{r.width}x{r.height} ({r.mean_jpeg_kb:.0f} kB): {rates}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
