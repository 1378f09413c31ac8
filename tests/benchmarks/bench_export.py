"""Export benchmark: export time, SavedModel size and in-process throughput of each variant
(fp32 with folded or separate batch norm, bf16 folded), plus how far bf16 moves the logits.

The one place these are measured: ``make bench`` (tests/benchmarks/run.py, section 1) calls
the functions below. Not a pytest test (timings on a shared CI box are not assertions); run
it alone with

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m tests.benchmarks.bench_export [--seconds S]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np

from inception_svm_export.config import Precision
from tests.benchmarks.results import interleaved_rates

BATCH_SIZES = (1, 8, 32)
# serving_default is what clients call (encoded bytes → logits, preprocessing included);
# predict_pixels is the network alone, which is all that precision changes.
Entry = Literal["images", "pixels"]
SIGNATURES: dict[Entry, str] = {"images": "serving_default", "pixels": "predict_pixels"}


@dataclass(frozen=True)
class Variant:
    name: str
    fold_batchnorm: bool
    precision: Precision


FP32_FOLDED = Variant("fp32 folded", True, "fp32")
FP32_UNFOLDED = Variant("fp32 unfolded", False, "fp32")
BF16_FOLDED = Variant("bf16 folded", True, "bf16")
VARIANTS = (FP32_FOLDED, FP32_UNFOLDED, BF16_FOLDED)


@dataclass(frozen=True)
class ExportedModel:
    variant: Variant
    version_dir: Path
    export_s: float
    size_mb: float


def export_variants(
    workdir: Path, checkpoint: str | None, variants: Sequence[Variant] = VARIANTS
) -> dict[Variant, ExportedModel]:
    """Every variant exported from the same weights (random unless ``checkpoint``), as version
    1 of its own model base path so a server can load any of them."""
    from inception_svm_export.config import ExportConfig
    from inception_svm_export.random_checkpoint import write_random_checkpoint
    from inception_svm_export.saved_model import export_saved_model

    if checkpoint is None:
        path = workdir / "checkpoint" / "inception_v1.ckpt"
        path.parent.mkdir(parents=True)
        checkpoint = str(write_random_checkpoint(path, fmt="v1", seed=0))
    exported = {}
    for variant in variants:
        started = time.perf_counter()
        version_dir = export_saved_model(
            ExportConfig(
                checkpoint=checkpoint,
                model_dir=workdir / variant.name.replace(" ", "-") / "inception_v1",
                version=1,
                fold_batchnorm=variant.fold_batchnorm,
                precision=variant.precision,
                cache_dir=workdir / "cache",
                show_progress=False,
            )
        )
        size = sum(p.stat().st_size for p in version_dir.rglob("*") if p.is_file())
        exported[variant] = ExportedModel(
            variant, version_dir, time.perf_counter() - started, size / 1e6
        )
    return exported


def batch_of(images: Sequence[bytes], batch_size: int) -> list[bytes]:
    return [images[i % len(images)] for i in range(batch_size)]


def inprocess_calls(
    version_dir: Path, images: Sequence[bytes], batch_sizes: Sequence[int], entry: Entry = "images"
) -> dict[int, Callable[[], object]]:
    """One ready call per batch size of the signature TF Serving would run.

    Loads exactly what TF Serving loads (``MODEL_DIR/1``) so variants and the served/
    in-process ratio compare the same graph. ``pixels`` feeds uniform noise in [-1, 1]:
    the network's cost does not depend on the pixel values.
    """
    import tensorflow as tf

    predict = tf.saved_model.load(str(version_dir)).signatures[SIGNATURES[entry]]
    rng = np.random.default_rng(0)
    calls: dict[int, Callable[[], object]] = {}
    for batch_size in batch_sizes:
        if entry == "images":
            batch = tf.constant(batch_of(images, batch_size))
        else:
            batch = tf.constant(rng.uniform(-1, 1, (batch_size, 224, 224, 3)).astype(np.float32))
        calls[batch_size] = functools.partial(_logits, predict, entry, batch)
    return calls


def _logits(predict: Callable[..., Any], entry: Entry, batch: Any) -> object:
    return predict(**{entry: batch})["logits"].numpy()


def inprocess_images_per_s(
    version_dir: Path,
    images: Sequence[bytes],
    batch_sizes: Sequence[int],
    *,
    min_seconds: float,
    entry: Entry = "images",
) -> dict[int, float]:
    """images/s of one model at each batch size (``make bench`` interleaves all models)."""
    calls = inprocess_calls(version_dir, images, batch_sizes, entry)
    return interleaved_rates(
        {batch_size: (call, batch_size) for batch_size, call in calls.items()},
        min_seconds=min_seconds,
    )


@dataclass(frozen=True)
class PrecisionAgreement:
    """bf16 against fp32 on the bundled car photos, through the SVM users would train."""

    max_abs_deviation: float
    max_abs_logit: float
    decisions_compared: int
    decisions_identical: int
    smallest_fp32_margin: float


def bundled_cars_dir() -> Path:
    return Path(str(files("inception_svm_client") / "data" / "cars"))


def precision_agreement(
    fp32_dir: Path, bf16_dir: Path, cars_dir: Path | None = None
) -> PrecisionAgreement:
    """Train the SVM on fp32 features of ``train/<label>/``; classify ``unlabeled/`` with
    fp32 and with bf16 features and count identical decisions."""
    import tensorflow as tf

    from inception_svm_client import svm

    cars = cars_dir or bundled_cars_dir()
    train, unlabeled = sorted((cars / "train").glob("*/*.jpg")), sorted(cars.glob("unlabeled/*"))
    images = tf.constant([p.read_bytes() for p in train + unlabeled])
    logits = {
        directory: tf.saved_model.load(str(directory))
        .signatures["serving_default"](images=images)["logits"]
        .numpy()
        for directory in (fp32_dir, bf16_dir)
    }
    fp32, bf16 = logits[fp32_dir], logits[bf16_dir]
    model: Any = svm.make_linear_svc().fit(fp32[: len(train)], [p.parent.name for p in train])
    scores_fp32 = model.decision_function(fp32[len(train) :])
    decisions_fp32 = model.predict(fp32[len(train) :])
    decisions_bf16 = model.predict(bf16[len(train) :])
    return PrecisionAgreement(
        max_abs_deviation=float(np.abs(bf16 - fp32).max()),
        max_abs_logit=float(np.abs(fp32).max()),
        decisions_compared=len(unlabeled),
        decisions_identical=int((decisions_fp32 == decisions_bf16).sum()),
        smallest_fp32_margin=float(np.abs(scores_fp32).min()),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per figure")
    parser.add_argument("--checkpoint", help="real checkpoint (default: random weights)")
    args = parser.parse_args(argv)

    photos = [p.read_bytes() for p in sorted(bundled_cars_dir().rglob("*.jpg"))]
    header = f"{'variant':>14} {'batch':>5} {'jpeg img/s':>11} {'pixels img/s':>13}"
    rows = [f"{header} {'export s':>9} {'MB':>6}"]
    with tempfile.TemporaryDirectory() as scratch:
        exported = export_variants(Path(scratch), args.checkpoint)
        for variant, model in exported.items():
            rates = {
                entry: inprocess_images_per_s(
                    model.version_dir,
                    photos,
                    BATCH_SIZES,
                    min_seconds=args.seconds * len(BATCH_SIZES),
                    entry=entry,
                )
                for entry in SIGNATURES
            }
            for batch in BATCH_SIZES:
                rows.append(
                    f"{variant.name:>14} {batch:>5} {rates['images'][batch]:>11.1f} "
                    f"{rates['pixels'][batch]:>13.1f} {model.export_s:>9.1f} {model.size_mb:>6.1f}"
                )
        agreement = precision_agreement(
            exported[FP32_FOLDED].version_dir, exported[BF16_FOLDED].version_dir
        )
    print("\n".join(rows))
    print(agreement)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
