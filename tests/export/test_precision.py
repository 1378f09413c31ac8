"""``--precision bf16``: same contract as fp32, logits close to fp32, the same SVM decisions.

Random weights (the session checkpoint): the SVM trained on their features is no good at
telling cars apart, so the test asserts that bf16 features change none of its decisions,
not that the decisions are right.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from inception_svm_client.cli import main as cli_main
from inception_svm_client.svm import _classifier as svm
from inception_svm_client.svm import _metadata as svm_metadata
from tests.paths import training_photos, unlabeled_photos

# bf16 keeps 8 significant bits: each rounding is off by at most 2^-9 ≈ 0.2 %. The longest
# path through the network rounds activations about 22 times; independent roundings add
# like a random walk, √22 · 0.2 % ≈ 0.9 % of the activation scale, and the head runs in
# float32 so nothing is added at the output. Measured: 0.6 % (oneDNN) and 1.0 % (Eigen,
# TF_ENABLE_ONEDNN_OPTS=0) of the largest |logit|. 3 % leaves room for other CPUs' kernels
# while a lossy cast (fp16 range, int) or a mixed-up weight would exceed it many times over.
MAX_DEVIATION_OF_LARGEST_LOGIT = 0.03
CONV_KERNEL = "InceptionV1/Conv2d_1a_7x7/weights"
HEAD_KERNEL = "InceptionV1/Logits/Conv2d_0c_1x1/weights"
TRAINING_PHOTOS = training_photos()


@pytest.fixture(scope="module")
def bf16_version_dir(tmp_path_factory: pytest.TempPathFactory, random_checkpoint_v1: Path) -> Path:
    """Exported through the CLI, so the flag is covered end to end."""
    model_dir = tmp_path_factory.mktemp("bf16") / "inception_v1"
    argv = ["export", "--precision", "bf16", "--checkpoint", str(random_checkpoint_v1)]
    cache = tmp_path_factory.mktemp("cache")
    assert cli_main([*argv, "--model-dir", str(model_dir), "--cache-dir", str(cache)]) == 0
    return model_dir / "1"


@pytest.fixture(scope="module")
def bf16_model(bf16_version_dir: Path) -> tf.Module:
    return tf.saved_model.load(str(bf16_version_dir))


@pytest.fixture(scope="module")
def logits(model_base_path: Path, bf16_model: tf.Module) -> dict[str, np.ndarray]:
    """fp32 and bf16 logits of every bundled car photo, training photos first."""
    images = tf.constant([p.read_bytes() for p in TRAINING_PHOTOS + unlabeled_photos()])
    fp32_model = tf.saved_model.load(str(model_base_path / "1"))
    result = {}
    for precision, model in (("fp32", fp32_model), ("bf16", bf16_model)):
        served = model.signatures["serving_default"]
        output = served(images=images)["logits"]
        assert output.dtype == tf.float32 and output.shape == (len(images), 1001)
        result[precision] = output.numpy()
    return result


def test_bf16_model_keeps_the_float32_contract_and_stores_bf16_kernels(
    bf16_version_dir: Path, bf16_model: tf.Module
) -> None:
    signature = bf16_model.signatures["predict_pixels"]
    pixels_input = signature.structured_input_signature[1]["pixels"]
    assert pixels_input.dtype == tf.float32
    assert bf16_model.weights[CONV_KERNEL].dtype == tf.bfloat16
    assert bf16_model.weights[HEAD_KERNEL].dtype == tf.float32
    metadata = json.loads((bf16_version_dir / "assets.extra" / "export_metadata.json").read_text())
    assert metadata["precision"] == "bf16"


def test_bf16_logits_stay_close_to_fp32(logits: dict[str, np.ndarray]) -> None:
    fp32, bf16 = logits["fp32"], logits["bf16"]
    deviation = np.abs(bf16 - fp32).max()
    assert 0 < deviation <= MAX_DEVIATION_OF_LARGEST_LOGIT * np.abs(fp32).max()
    for row_fp32, row_bf16 in zip(fp32, bf16, strict=True):
        assert np.corrcoef(row_fp32, row_bf16)[0, 1] > 0.999


def test_svm_trained_on_fp32_features_decides_the_same_on_bf16_features(
    logits: dict[str, np.ndarray],
) -> None:
    train_count = len(TRAINING_PHOTOS)
    labels = [path.parent.name for path in TRAINING_PHOTOS]
    # Fitted directly: svm.train's leave-one-out folds would only add seconds here.
    model = svm.make_linear_svc().fit(logits["fp32"][:train_count], labels)
    metadata = svm_metadata.SvmMetadata(
        class_names=sorted(set(labels)),
        feature_dim=1001,
        featurizer=svm_metadata.FeaturizerInfo("inception_v1", 1, "serving_default"),
        training_set_size=train_count,
        trained_at="test",
        sklearn_version="test",
        loo_accuracy=None,
    )
    classifier = svm.SvmClassifier(svm.export_onnx(model, metadata))
    from_fp32 = classifier.predict(logits["fp32"][train_count:])
    from_bf16 = classifier.predict(logits["bf16"][train_count:])
    assert [p.label for p in from_bf16] == [p.label for p in from_fp32]
