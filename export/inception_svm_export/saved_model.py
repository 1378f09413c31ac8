"""Build the serving module and write it as ``MODEL_DIR/VERSION`` for TF Serving.

The version directory appears atomically (staged in a hidden sibling, then renamed):
TF Serving polls MODEL_DIR and would otherwise try to load a half-written version, and
a failed export must not leave anything that looks like a version behind. Its integrity
manifest (SHA256SUMS) is written inside the staging directory, so a version directory is
never visible without one.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from inception_svm_client.contract import (
    CHECKPOINT_OUTPUT,
    CLASS_NAMES_OUTPUT,
    CLASSES_OUTPUT,
    FEATURES_SIGNATURE,
    IMAGENET_SIGNATURE,
    IMAGES_INPUT,
    LOGITS_OUTPUT,
    MODEL_NAME,
    NUM_CLASSES,
    PIXELS_INPUT,
    PIXELS_SIGNATURE,
    PRELOGITS_DIM,
    PRELOGITS_OUTPUT,
    PROBABILITIES_OUTPUT,
    SERVING_SIGNATURE,
)
from inception_svm_client.verify.golden import ModelIdentity
from inception_svm_export.architecture import IMAGE_SIZE
from inception_svm_export.batchnorm_folding import fold_batchnorm
from inception_svm_export.checkpoint import load_checkpoint, resolve_checkpoint
from inception_svm_export.exceptions import VersionDirError
from inception_svm_export.export_config import ExportConfig, Precision
from inception_svm_export.golden import write_golden
from inception_svm_export.imagenet_labels import LABELS_ASSET, write_labels
from inception_svm_export.integrity import write_manifest
from inception_svm_export.network import SUB_BATCH_SIZE, InceptionV1, in_sub_batches
from inception_svm_export.precision import COMPUTE_DTYPES, stored_weights
from inception_svm_export.preprocessing import (
    MAX_IMAGE_PIXELS,
    PREPROCESSING_VERSION,
    preprocess_batch,
)
from inception_svm_export.provenance import WeightsProvenance, checkpoint_provenance
from inception_svm_export.warmup import (
    DEFAULT_WARMUP_BATCH_SIZES,
    warmup_batch_sizes,
    write_warmup_requests,
)

METADATA_FILE = "export_metadata.json"
# The signature returns this many classes per image (a client shows any K up to it): a
# fixed K keeps every input batchable by TF Serving, which a scalar ``k`` input would not.
IMAGENET_TOP_K = 10


class InceptionV1Serving(tf.Module):
    """Inception v1 with in-graph preprocessing; both entry points return logits."""

    def __init__(
        self,
        weights: Mapping[str, np.ndarray],
        *,
        folded: bool,
        precision: Precision = "fp32",
        labels_path: Path,
        weights_description: str,
        sub_batch_size: int = SUB_BATCH_SIZE,
    ) -> None:
        super().__init__(name=MODEL_NAME)
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
        self._init_imagenet(labels_path, weights_description)

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

    # -- pre-logits features and ImageNet top-k (issue 19) -------------------------------

    def _init_imagenet(self, labels_path: Path, weights_description: str) -> None:
        """The label asset (copied into ``assets/`` on save) read into a lookup table, and
        the provenance line every top-k answer carries."""
        self.labels_asset = tf.saved_model.Asset(str(labels_path))
        self.labels = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                self.labels_asset,
                key_dtype=tf.int64,
                key_index=tf.lookup.TextFileIndex.LINE_NUMBER,
                value_dtype=tf.string,
                value_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            ),
            default_value="",
        )
        self.weights_description = tf.Variable(weights_description, trainable=False)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGES_INPUT)])
    def predict_features(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        # The same empty-batch guard and sub-batches as ``_logits``, one layer earlier.
        prelogits = tf.cond(
            tf.shape(images)[0] > 0,
            lambda: in_sub_batches(
                images,
                lambda chunk: self._network.prelogits(preprocess_batch(chunk)),
                self._sub_batch_size,
                width=PRELOGITS_DIM,
            ),
            lambda: tf.zeros([0, PRELOGITS_DIM], tf.float32),
        )
        return {LOGITS_OUTPUT: self._network.classifier(prelogits), PRELOGITS_OUTPUT: prelogits}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGES_INPUT)])
    def classify_imagenet(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = tf.nn.softmax(self._logits(images, preprocess_batch))
        top = tf.math.top_k(probabilities, k=IMAGENET_TOP_K, sorted=True)
        return {
            CLASSES_OUTPUT: top.indices,
            CLASS_NAMES_OUTPUT: self.labels.lookup(tf.cast(top.indices, tf.int64)),
            PROBABILITIES_OUTPUT: top.values,
            CHECKPOINT_OUTPUT: tf.fill(tf.shape(images)[:1], self.weights_description),
        }


def export_saved_model(
    config: ExportConfig, report: Callable[[str], None] = lambda _: None
) -> Path:
    """Resolve and validate the checkpoint, then write the SavedModel; returns ``DIR/N``.

    ``report`` receives one line per step, for a CLI's progress output.
    """
    version_dir = config.model_dir / str(config.version or next_version(config.model_dir))
    if version_dir.exists():  # before fetching or reading a checkpoint that would be wasted
        raise VersionDirError(f"{version_dir} already exists; pick another --version")
    batch_sizes = warmup_batch_sizes(config.warmup_batching_parameters)
    checkpoint_path = resolve_checkpoint(
        config.checkpoint,
        cache_dir=config.cache_dir,
        sha256=config.sha256,
        show_progress=config.show_progress,
    )
    report(f"reading checkpoint {checkpoint_path}")
    weights = load_checkpoint(checkpoint_path)
    provenance = checkpoint_provenance(
        config.checkpoint,
        checkpoint_path,
        cache_dir=config.cache_dir,
        verified_sha256=config.sha256,
    )
    report(f"weights: {provenance.describe()}")
    if config.fold_batchnorm:
        weights = fold_batchnorm(weights)
    batchnorm = "folded" if config.fold_batchnorm else "separate"
    report(f"writing SavedModel ({batchnorm} batch norm, {config.precision})")
    config.model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=config.model_dir, prefix=".export-"))
    try:
        write_model(
            staging,
            weights,
            folded=config.fold_batchnorm,
            precision=config.precision,
            provenance=provenance,
            warmup_batch_sizes=batch_sizes,
        )
        (staging / "assets.extra" / METADATA_FILE).write_text(
            json.dumps(
                {
                    "checkpoint": config.checkpoint,
                    "fold_batchnorm": config.fold_batchnorm,
                    "precision": config.precision,
                    "max_image_pixels": MAX_IMAGE_PIXELS,
                    "weights": provenance.to_json(),
                    "labels_asset": LABELS_ASSET,
                    "signatures": {
                        SERVING_SIGNATURE: {IMAGES_INPUT: "DT_STRING [-1]"},
                        PIXELS_SIGNATURE: {PIXELS_INPUT: "DT_FLOAT [-1,224,224,3]"},
                        FEATURES_SIGNATURE: {IMAGES_INPUT: "DT_STRING [-1]"},
                        IMAGENET_SIGNATURE: {IMAGES_INPUT: "DT_STRING [-1]"},
                    },
                },
                indent=2,
            )
        )
        write_export_golden(staging, config, provenance, version=int(version_dir.name))
        manifest_digest = write_manifest(staging)
        try:
            staging.rename(version_dir)
        except OSError as error:
            raise VersionDirError(f"cannot create {version_dir}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # The value to pin in the deployment (k8s: MODEL_MANIFEST_SHA256S in model-source).
    report(f"MODEL_MANIFEST_SHA256={manifest_digest}")
    return version_dir


def write_export_golden(
    staging: Path, config: ExportConfig, provenance: WeightsProvenance, *, version: int
) -> Path:
    """The golden outputs of the SavedModel in ``staging``, inside it before the rename, so
    they are part of the version (and of its integrity manifest)."""
    identity = ModelIdentity(
        model=MODEL_NAME,
        version=version,
        checkpoint=config.checkpoint,
        checkpoint_sha256=provenance.sha256,
        precision=config.precision,
        fold_batchnorm=config.fold_batchnorm,
        preprocessing_version=PREPROCESSING_VERSION,
    )
    return write_golden(
        staging,
        identity,
        signature_name=SERVING_SIGNATURE,
        input_name=IMAGES_INPUT,
        output_name=LOGITS_OUTPUT,
    )


def write_model(
    directory: Path,
    weights: Mapping[str, np.ndarray],
    *,
    folded: bool,
    precision: Precision = "fp32",
    provenance: WeightsProvenance,
    warmup_batch_sizes: tuple[int, ...] = DEFAULT_WARMUP_BATCH_SIZES,
) -> None:
    """SavedModel with every signature plus the warmup requests, into ``directory``."""
    with tempfile.TemporaryDirectory() as scratch:
        module = InceptionV1Serving(
            weights,
            folded=folded,
            precision=precision,
            labels_path=write_labels(Path(scratch) / LABELS_ASSET),
            weights_description=provenance.describe(),
        )
        tf.saved_model.save(
            module,
            str(directory),
            signatures={
                SERVING_SIGNATURE: module.predict_images.get_concrete_function(),
                PIXELS_SIGNATURE: module.predict_pixels.get_concrete_function(),
                FEATURES_SIGNATURE: module.predict_features.get_concrete_function(),
                IMAGENET_SIGNATURE: module.classify_imagenet.get_concrete_function(),
            },
        )
    write_warmup_requests(
        directory / "assets.extra",
        signature_name=SERVING_SIGNATURE,
        input_key=IMAGES_INPUT,
        batch_sizes=warmup_batch_sizes,
    )


def next_version(model_dir: Path) -> int:
    """One past the highest numeric version in ``model_dir`` (TF Serving's version dirs)."""
    if not model_dir.is_dir():
        return 1
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1
