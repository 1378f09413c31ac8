"""The ``classify_imagenet`` and ``features`` signatures of the session's shared export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from inception_svm_export.imagenet_labels import LABELS_ASSET, imagenet_labels
from inception_svm_export.saved_model import IMAGENET_TOP_K


@pytest.fixture(scope="module")
def photos(bundled_photos: Path) -> tf.Tensor:
    paths = sorted((bundled_photos / "cars" / "unlabeled").glob("*.jpg"))[:3]
    paths.append(bundled_photos / "samples" / "cat-with-tongue_224x224.jpg")
    return tf.constant([p.read_bytes() for p in paths])


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_top_k_equals_argsort_of_softmax_of_the_serving_logits(
    model: tf.Module, photos: tf.Tensor
) -> None:
    logits = model.signatures["serving_default"](images=photos)["logits"].numpy()
    top = model.signatures["classify_imagenet"](images=photos)
    probabilities = _softmax(logits.astype(np.float64))
    expected = np.argsort(-probabilities, axis=1, kind="stable")[:, :IMAGENET_TOP_K]
    np.testing.assert_array_equal(top["classes"].numpy(), expected)
    np.testing.assert_allclose(
        top["probabilities"].numpy(),
        np.take_along_axis(probabilities, expected, axis=1),
        rtol=1e-5,
        atol=1e-7,
    )
    labels = imagenet_labels()
    names = [[n.decode() for n in row] for row in top["class_names"].numpy()]
    assert names == [[labels[i] for i in row] for row in expected]
    # Not vacuous: the photos are ranked differently.
    assert len({tuple(row) for row in expected}) > 1


def test_features_signature_returns_logits_and_prelogits(
    model: tf.Module, photos: tf.Tensor
) -> None:
    served = model.signatures["serving_default"](images=photos)["logits"].numpy()
    features = model.signatures["features"](images=photos)
    assert features["prelogits"].shape == (4, 1024) and features["logits"].shape == (4, 1001)
    np.testing.assert_array_equal(features["logits"].numpy(), served)
    assert (features["prelogits"].numpy() >= 0).all()  # an average of ReLUs


@pytest.mark.parametrize("signature", ["features", "classify_imagenet"])
def test_empty_batch_gives_empty_outputs(model: tf.Module, signature: str) -> None:
    outputs = model.signatures[signature](images=tf.zeros([0], tf.string))
    assert outputs and all(int(v.shape[0]) == 0 for v in outputs.values())


def test_provenance_and_labels_travel_with_the_model(
    version_dir: Path, model: tf.Module, photos: tf.Tensor, random_checkpoint_v1: Path
) -> None:
    metadata = json.loads((version_dir / "assets.extra" / "export_metadata.json").read_text())
    digest = hashlib.sha256(random_checkpoint_v1.read_bytes()).hexdigest()
    assert metadata["weights"]["official"] is False
    assert metadata["weights"]["sha256"] == digest
    checkpoint = model.signatures["classify_imagenet"](images=photos)["checkpoint"].numpy()
    assert {c.decode() for c in checkpoint} == {metadata["weights"]["description"]}
    assert digest in metadata["weights"]["description"]
    asset = (version_dir / "assets" / LABELS_ASSET).read_text().splitlines()
    assert asset == imagenet_labels()
