"""Export benchmark: export time, SavedModel size and in-process throughput of each variant
(fp32 with folded or separate batch norm, bf16 folded), plus how far bf16 moves the logits.

The one place these are measured: ``make bench`` (tests/benchmarks/run.py, section 1) calls
the functions below. Not a pytest test (timings on a shared CI box are not assertions); for
section 1 without a server, run ``python -m tests.benchmarks.run --skip-served [--quick]``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from inception_svm_client.inputs import images_in_directory
from inception_svm_client.svm._training import load_training_set
from inception_svm_export.export_config import Precision

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
    from inception_svm_export.export_config import ExportConfig
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


def load_saved_model(version_dir: Path) -> Any:
    """Exactly what TF Serving loads (``MODEL_DIR/1``), so variants and the served/in-process
    ratio compare the same graph; load once per variant and share it."""
    import tensorflow as tf

    return tf.saved_model.load(str(version_dir))


def inprocess_calls(
    model: Any, images: Sequence[bytes], batch_sizes: Sequence[int], entry: Entry = "images"
) -> dict[int, Callable[[], object]]:
    """One ready call per batch size of the signature TF Serving would run, on a model from
    ``load_saved_model``. ``pixels`` feeds uniform noise in [-1, 1]: the network's cost does
    not depend on the pixel values.
    """
    import tensorflow as tf

    predict = model.signatures[SIGNATURES[entry]]
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


@dataclass(frozen=True)
class PrecisionAgreement:
    """bf16 against fp32 on the bundled car photos, through the SVM users would train."""

    max_abs_deviation: float
    max_abs_logit: float
    decisions_compared: int
    decisions_identical: int
    smallest_fp32_margin: float


def precision_agreement(fp32_model: Any, bf16_model: Any, cars_dir: Path) -> PrecisionAgreement:
    """Train the SVM on fp32 features of ``train/<label>/``; classify ``unlabeled/`` with
    fp32 and with bf16 features and count identical decisions (models from
    ``load_saved_model``)."""
    import tensorflow as tf

    from inception_svm_client.svm import _classifier as svm

    training_set = load_training_set(cars_dir / "train")
    unlabeled = images_in_directory(cars_dir / "unlabeled")
    images = tf.constant([p.read_bytes() for p in training_set.paths + unlabeled])
    fp32, bf16 = (
        model.signatures["serving_default"](images=images)["logits"].numpy()
        for model in (fp32_model, bf16_model)
    )
    train = len(training_set.paths)
    svc: Any = svm.make_linear_svc().fit(fp32[:train], training_set.labels)
    scores_fp32 = svc.decision_function(fp32[train:])
    decisions_fp32 = svc.predict(fp32[train:])
    decisions_bf16 = svc.predict(bf16[train:])
    return PrecisionAgreement(
        max_abs_deviation=float(np.abs(bf16 - fp32).max()),
        max_abs_logit=float(np.abs(fp32).max()),
        decisions_compared=len(unlabeled),
        decisions_identical=int((decisions_fp32 == decisions_bf16).sum()),
        smallest_fp32_margin=float(np.abs(scores_fp32).min()),
    )
