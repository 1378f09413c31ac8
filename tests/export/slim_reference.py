"""TF-Slim's own Inception v1 graph, as the reference our native TF2 network must match.

tf-slim 1.1.0 imports ``tf_keras.legacy_tf_layers``, which tf-keras 2.21 moved under
``tf_keras.src``; the alias below is the whole compatibility hack and lives only here.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

_LEGACY_LAYER_MODULES = ("base", "core", "convolutional", "normalization", "pooling")


def _import_slim_inception_v1():  # type: ignore[no-untyped-def]
    legacy = importlib.import_module("tf_keras.src.legacy_tf_layers")
    sys.modules.setdefault("tf_keras.legacy_tf_layers", legacy)
    for name in _LEGACY_LAYER_MODULES:
        module = importlib.import_module(f"tf_keras.src.legacy_tf_layers.{name}")
        sys.modules.setdefault(f"tf_keras.legacy_tf_layers.{name}", module)
    import tf_slim
    from tf_slim.nets import inception_v1

    return tf_slim, inception_v1


@dataclasses.dataclass(frozen=True)
class SlimReference:
    """Random weights written by TF-Slim's graph, and what that graph computes from them."""

    checkpoint_v1: Path
    checkpoint_v2: Path
    variable_shapes: dict[str, tuple[int, ...]]
    pixels: np.ndarray  # TF1-op preprocessing of the photos, [N, 224, 224, 3]
    logits: np.ndarray  # TF-Slim's logits for ``pixels``, [N, 1001]
    prelogits: np.ndarray  # its ``AvgPool_0a_7x7`` endpoint for ``pixels``, [N, 1, 1, 1024]


def build_slim_reference(photos: Sequence[bytes], out_dir: Path, seed: int = 1) -> SlimReference:
    """Build TF-Slim's graph, fill it with random weights, save V1 + V2, run it on ``photos``."""
    slim, inception_v1 = _import_slim_inception_v1()
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        encoded = tf.compat.v1.placeholder(tf.string, [])
        preprocessed = tf1_preprocessing(encoded)
        pixels_in = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3])
        with slim.arg_scope(inception_v1.inception_v1_arg_scope()):
            logits, _ = inception_v1.inception_v1(pixels_in, num_classes=1001, is_training=False)
        avg_pool = _avg_pool_endpoint(graph)
        variables = tf.compat.v1.global_variables()
        v1_saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)
        v2_saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V2)
        with tf.compat.v1.Session(graph=graph) as session:
            for variable in variables:
                variable.load(
                    _random_value(variable.op.name, variable.shape.as_list(), rng), session
                )
            v1_path = out_dir / "slim_v1" / "inception_v1.ckpt"
            v2_path = out_dir / "slim_v2" / "model.ckpt"
            v1_path.parent.mkdir(parents=True)
            v2_path.parent.mkdir(parents=True)
            v1_saver.save(session, str(v1_path), write_meta_graph=False, write_state=False)
            v2_saver.save(session, str(v2_path), write_meta_graph=False, write_state=False)
            pixels = np.stack([session.run(preprocessed, {encoded: photo}) for photo in photos])
            reference_logits, reference_prelogits = session.run(
                [logits, avg_pool], {pixels_in: pixels}
            )
    return SlimReference(
        checkpoint_v1=v1_path,
        checkpoint_v2=v2_path,
        variable_shapes={v.op.name: tuple(v.shape.as_list()) for v in variables},
        pixels=pixels,
        logits=reference_logits,
        prelogits=reference_prelogits,
    )


def _avg_pool_endpoint(graph: tf.Graph) -> tf.Tensor:
    """The ``AvgPool_0a_7x7`` endpoint of the models-repo TF-Slim: tf-slim 1.1.0 builds the
    same 7x7 average pool but scopes it ``Logits/MaxPool_0a_7x7`` and leaves it out of
    ``end_points``, so it is found as the one AvgPool op under ``InceptionV1/Logits``."""
    pools = [
        op
        for op in graph.get_operations()
        if op.type == "AvgPool" and op.name.startswith("InceptionV1/Logits/")
    ]
    assert len(pools) == 1, [op.name for op in pools]
    output: tf.Tensor = pools[0].outputs[0]
    return output


def tf1_preprocessing(encoded: tf.Tensor) -> tf.Tensor:
    """The original demo's preprocessing written with TF1 ops (graph mode), for one image."""
    image = tf.image.decode_jpeg(encoded, channels=3)
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    image = tf.compat.v1.image.resize_image_with_crop_or_pad(image, side, side)
    # TF-Slim's inception_preprocessing.preprocess_for_eval(image, 224, 224):
    image = tf.compat.v1.image.convert_image_dtype(image, dtype=tf.float32)
    image = tf.compat.v1.image.central_crop(image, central_fraction=0.875)
    image = tf.expand_dims(image, 0)
    image = tf.compat.v1.image.resize_bilinear(image, [224, 224], align_corners=False)
    image = tf.squeeze(image, [0])
    return tf.multiply(tf.subtract(image, 0.5), 2.0)


def _random_value(name: str, shape: list[int], rng: np.random.Generator) -> np.ndarray:
    """Independent of the exporter's generator: He-scaled kernels, positive variances."""
    leaf = name.rsplit("/", 1)[-1]
    if leaf == "weights":
        value = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)
    elif leaf == "moving_variance":
        value = rng.uniform(0.3, 2.0, shape)
    else:  # beta, moving_mean, biases
        value = rng.normal(0.0, 0.2, shape)
    return value.astype(np.float32)
