"""The SavedModel runs the network over sub-batches (bounded peak memory for any request
size) and gets exactly what one pass over the whole batch gets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from inception_svm_export.batchnorm_folding import fold_batchnorm
from inception_svm_export.checkpoint import load_checkpoint
from inception_svm_export.imagenet_labels import LABELS_ASSET, write_labels
from inception_svm_export.preprocessing import preprocess_batch
from inception_svm_export.saved_model import InceptionV1Serving
from tests.paths import car_photos

# 5 rows in chunks of 2: two full chunks and a short last one.
_ROWS, _CHUNK = 5, 2


@pytest.fixture(scope="module")
def chunked_module(
    random_checkpoint_v1: Path, tmp_path_factory: pytest.TempPathFactory
) -> InceptionV1Serving:
    weights = fold_batchnorm(load_checkpoint(random_checkpoint_v1))
    labels = write_labels(tmp_path_factory.mktemp("labels") / LABELS_ASSET)
    return InceptionV1Serving(
        weights,
        folded=True,
        labels_path=labels,
        weights_description="random test weights",
        sub_batch_size=_CHUNK,
    )


def test_images_in_sub_batches_equal_one_pass(chunked_module: InceptionV1Serving) -> None:
    images = tf.constant([p.read_bytes() for p in car_photos()[:_ROWS]])
    chunked = chunked_module.predict_images(images)["logits"].numpy()
    one_pass = chunked_module._network(preprocess_batch(images)).numpy()
    assert chunked.shape == (_ROWS, 1001)
    # Same kernels per row; oneDNN may block rows differently, hence a float tolerance.
    np.testing.assert_allclose(chunked, one_pass, rtol=1e-5, atol=1e-4)
    assert not np.allclose(chunked[0], chunked[1])  # rows are distinct, not one chunk repeated


def test_pixels_in_sub_batches_equal_one_pass(chunked_module: InceptionV1Serving) -> None:
    pixels = tf.random.stateless_uniform([_ROWS, 224, 224, 3], seed=(1, 2), minval=-1, maxval=1)
    chunked = chunked_module.predict_pixels(pixels)["logits"].numpy()
    np.testing.assert_allclose(
        chunked, chunked_module._network(pixels).numpy(), rtol=1e-5, atol=1e-4
    )
