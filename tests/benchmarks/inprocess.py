"""Section 1: the SavedModel called in-process (bytes → logits), the ceiling serving aims at.

Loads exactly what TF Serving loads (``serving_default`` of ``MODEL_DIR/1``) so the
folded/unfolded comparison and the served/in-process ratio compare the same graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.benchmarks.results import rate_per_s


def batch_of(images: Sequence[bytes], batch_size: int) -> list[bytes]:
    return [images[i % len(images)] for i in range(batch_size)]


def inprocess_images_per_s(
    version_dir: Path,
    images: Sequence[bytes],
    batch_sizes: Sequence[int],
    *,
    min_seconds: float,
) -> dict[int, float]:
    """images/s of back-to-back ``serving_default`` calls at each batch size."""
    import tensorflow as tf

    predict = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    rates = {}
    for batch_size in batch_sizes:
        batch = tf.constant(batch_of(images, batch_size))

        def call(batch: tf.Tensor = batch) -> object:
            return predict(images=batch)["logits"].numpy()

        rates[batch_size] = rate_per_s(call, batch_size, min_seconds=min_seconds)
    return rates
