"""Build the serving module and write it as ``MODEL_DIR/VERSION`` for TF Serving.

The version directory appears atomically (staged in a hidden sibling, then renamed):
TF Serving polls MODEL_DIR and would otherwise try to load a half-written version, and
a failed export must not leave anything that looks like a version behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from inception_svm_export.architecture import IMAGE_SIZE, NUM_CLASSES
from inception_svm_export.batchnorm_folding import fold_batchnorm
from inception_svm_export.checkpoint import load_checkpoint, resolve_checkpoint
from inception_svm_export.config import ExportConfig, Precision
from inception_svm_export.network import SUB_BATCH_SIZE, InceptionV1, in_sub_batches
from inception_svm_export.precision import COMPUTE_DTYPES, stored_weights
from inception_svm_export.preprocessing import MAX_IMAGE_PIXELS, preprocess_batch
from inception_svm_export.warmup import write_warmup_requests

SERVING_SIGNATURE = "serving_default"
PIXELS_SIGNATURE = "predict_pixels"
IMAGES_INPUT = "images"
PIXELS_INPUT = "pixels"
LOGITS_OUTPUT = "logits"
METADATA_FILE = "export_metadata.json"


class ExportError(Exception):
    """The export cannot be written (as opposed to a bad checkpoint)."""


class InceptionV1Serving(tf.Module):
    """Inception v1 with in-graph preprocessing; both entry points return logits."""

    def __init__(
        self,
        weights: Mapping[str, np.ndarray],
        *,
        folded: bool,
        precision: Precision = "fp32",
        sub_batch_size: int = SUB_BATCH_SIZE,
    ) -> None:
        super().__init__(name="inception_v1")
        self.weights = {
            name: tf.Variable(value, trainable=False, name=name)
            for name, value in stored_weights(weights, precision).items()
        }
        # Saved with the model so a server or client can read the limit it enforces.
        self.max_image_pixels = tf.Variable(MAX_IMAGE_PIXELS, dtype=tf.int64, trainable=False)
        self._network = InceptionV1(
            self.weights, folded=folded, compute_dtype=COMPUTE_DTYPES[precision]
        )
        self._sub_batch_size = sub_batch_size

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGES_INPUT)])
    def predict_images(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {LOGITS_OUTPUT: self._logits(images, preprocess_batch)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32, name=PIXELS_INPUT)
        ]
    )
    def predict_pixels(self, pixels: tf.Tensor) -> dict[str, tf.Tensor]:
        return {LOGITS_OUTPUT: self._logits(pixels, tf.identity)}

    def _logits(self, batch: tf.Tensor, to_pixels: Callable[[tf.Tensor], tf.Tensor]) -> tf.Tensor:
        # An empty batch skips the network entirely: TF 2.21's oneDNN Conv2D mis-shapes N=0.
        # Preprocessing and network run per sub-batch, so peak memory does not grow with N.
        return tf.cond(
            tf.shape(batch)[0] > 0,
            lambda: in_sub_batches(
                batch, lambda chunk: self._network(to_pixels(chunk)), self._sub_batch_size
            ),
            lambda: tf.zeros([0, NUM_CLASSES], tf.float32),
        )


def export_saved_model(
    config: ExportConfig, report: Callable[[str], None] = lambda _: None
) -> Path:
    """Resolve and validate the checkpoint, then write the SavedModel; returns ``DIR/N``.

    ``report`` receives one line per step, for a CLI's progress output.
    """
    version_dir = config.model_dir / str(config.version or next_version(config.model_dir))
    if version_dir.exists():  # before fetching or reading a checkpoint that would be wasted
        raise ExportError(f"{version_dir} already exists; pick another --version")
    checkpoint_path = resolve_checkpoint(
        config.checkpoint,
        cache_dir=config.cache_dir,
        sha256=config.sha256,
        show_progress=config.show_progress,
    )
    report(f"reading checkpoint {checkpoint_path}")
    weights = load_checkpoint(checkpoint_path)
    if config.fold_batchnorm:
        weights = fold_batchnorm(weights)
    batchnorm = "folded" if config.fold_batchnorm else "separate"
    report(f"writing SavedModel ({batchnorm} batch norm, {config.precision})")
    config.model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=config.model_dir, prefix=".export-"))
    try:
        write_model(staging, weights, folded=config.fold_batchnorm, precision=config.precision)
        (staging / "assets.extra" / METADATA_FILE).write_text(
            json.dumps(
                {
                    "checkpoint": config.checkpoint,
                    "fold_batchnorm": config.fold_batchnorm,
                    "precision": config.precision,
                    "max_image_pixels": MAX_IMAGE_PIXELS,
                    "signatures": {
                        SERVING_SIGNATURE: {IMAGES_INPUT: "DT_STRING [-1]"},
                        PIXELS_SIGNATURE: {PIXELS_INPUT: "DT_FLOAT [-1,224,224,3]"},
                    },
                },
                indent=2,
            )
        )
        try:
            staging.rename(version_dir)
        except OSError as error:
            raise ExportError(f"cannot create {version_dir}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return version_dir


def write_model(
    directory: Path,
    weights: Mapping[str, np.ndarray],
    *,
    folded: bool,
    precision: Precision = "fp32",
) -> None:
    """SavedModel with both signatures plus the warmup requests, into ``directory``."""
    module = InceptionV1Serving(weights, folded=folded, precision=precision)
    tf.saved_model.save(
        module,
        str(directory),
        signatures={
            SERVING_SIGNATURE: module.predict_images.get_concrete_function(),
            PIXELS_SIGNATURE: module.predict_pixels.get_concrete_function(),
        },
    )
    write_warmup_requests(
        directory / "assets.extra", signature_name=SERVING_SIGNATURE, input_key=IMAGES_INPUT
    )


def next_version(model_dir: Path) -> int:
    """One past the highest numeric version in ``model_dir`` (TF Serving's version dirs)."""
    if not model_dir.is_dir():
        return 1
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1
