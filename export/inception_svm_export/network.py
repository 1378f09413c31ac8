"""Inception v1's forward pass (pixels → 1024 pre-logits → 1001 logits) in plain TF2 ops.

Written against a name → tensor mapping instead of Keras layers so the very same code
serves the exporter (variables restored from the checkpoint) and the tests (weights fed
straight from a checkpoint), and so each tensor keeps its TF-Slim checkpoint name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import tensorflow as tf

from inception_svm_client.contract import NUM_CLASSES, PRELOGITS_DIM
from inception_svm_export.architecture import (
    BATCHNORM_EPSILON,
    LOGITS_SCOPE,
    MIXED_BLOCKS,
    SCOPE,
)

FOLDED_BIAS_SUFFIX = "/folded_bias"
# Images run through the graph together. The real TF Serving runs whatever batch a request
# carries (batching off: any size), and each image costs ~0.6 MB of preprocessed pixels plus
# several MB of activations, so a 10,000-image request one-shot needs tens of GB. Chunks of 32
# cap that at a few hundred MB whatever the request size, at no measurable CPU throughput cost
# (CPU throughput is flat beyond batch 8-16).
SUB_BATCH_SIZE = 32


class InceptionV1:
    """The forward pass over a fixed set of weights.

    With ``folded=True`` each conv unit expects ``<scope>/weights`` already scaled by the
    batch norm and ``<scope>/folded_bias``; otherwise the checkpoint's own
    ``BatchNorm/{beta,moving_mean,moving_variance}`` are applied with the same fused op
    TF-Slim uses at inference.

    ``compute_dtype`` is the dtype of the conv units (their kernels and folded biases must
    already be in it); the input is cast to it and the classifier head runs in float32, so
    callers always see float32 in and out.
    """

    def __init__(
        self,
        weights: Mapping[str, tf.Tensor | tf.Variable],
        *,
        folded: bool,
        compute_dtype: tf.DType = tf.float32,
    ) -> None:
        self._weights = weights
        self._folded = folded
        self._compute_dtype = compute_dtype

    def __call__(self, pixels: tf.Tensor) -> tf.Tensor:
        """``pixels``: float32 [N, 224, 224, 3] in [-1, 1] → logits float32 [N, 1001]."""
        return self.classifier(self.prelogits(pixels))

    # -- pre-logits features and the classifier head (issue 19) --------------------------

    def prelogits(self, pixels: tf.Tensor) -> tf.Tensor:
        """``pixels`` → TF-Slim's ``AvgPool_0a_7x7`` endpoint squeezed: float32 [N, 1024].

        The transfer-learning feature (the logits' input); kept apart from ``classifier``
        so a signature can return it without running the head twice.
        """
        net = tf.cast(pixels, self._compute_dtype)  # the identity for float32
        net = self._conv(net, f"{SCOPE}/Conv2d_1a_7x7", stride=2)
        net = _max_pool(net, 3, 2)  # MaxPool_2a_3x3
        net = self._conv(net, f"{SCOPE}/Conv2d_2b_1x1")
        net = self._conv(net, f"{SCOPE}/Conv2d_2c_3x3")
        net = _max_pool(net, 3, 2)  # MaxPool_3a_3x3
        net = self._mixed(net, "Mixed_3b")
        net = self._mixed(net, "Mixed_3c")
        net = _max_pool(net, 3, 2)  # MaxPool_4a_3x3
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            net = self._mixed(net, name)
        net = _max_pool(net, 2, 2)  # MaxPool_5a_2x2
        net = self._mixed(net, "Mixed_5b")
        net = self._mixed(net, "Mixed_5c")
        # Logits/AvgPool_0a_7x7 is VALID in TF-Slim; dropout is the identity at inference.
        net = tf.nn.avg_pool2d(net, ksize=7, strides=1, padding="VALID")
        return tf.reshape(tf.cast(net, tf.float32), [-1, PRELOGITS_DIM])

    def classifier(self, prelogits: tf.Tensor) -> tf.Tensor:
        """float32 [N, 1024] → logits [N, 1001]: TF-Slim's 1x1 ``Conv2d_0c_1x1`` head, run
        as the same conv op on [N, 1, 1, 1024] so the logits stay bit-identical."""
        net = tf.reshape(prelogits, [-1, 1, 1, PRELOGITS_DIM])
        net = tf.nn.conv2d(net, self._weights[f"{LOGITS_SCOPE}/weights"], 1, "SAME")
        net = tf.nn.bias_add(net, self._weights[f"{LOGITS_SCOPE}/biases"])
        return tf.reshape(net, [-1, NUM_CLASSES])  # SpatialSqueeze

    # -------------------------------------------------------------------------------------

    def _mixed(self, net: tf.Tensor, name: str) -> tf.Tensor:
        block = MIXED_BLOCKS[name]
        scope = f"{SCOPE}/{name}"
        branch_0 = self._conv(net, f"{scope}/Branch_0/Conv2d_0a_1x1")
        branch_1 = self._conv(net, f"{scope}/Branch_1/Conv2d_0a_1x1")
        branch_1 = self._conv(branch_1, f"{scope}/Branch_1/Conv2d_0b_3x3")
        branch_2 = self._conv(net, f"{scope}/Branch_2/Conv2d_0a_1x1")
        branch_2 = self._conv(branch_2, f"{scope}/Branch_2/{block.branch_2_conv_name}")
        branch_3 = _max_pool(net, 3, 1)  # Branch_3/MaxPool_0a_3x3
        branch_3 = self._conv(branch_3, f"{scope}/Branch_3/Conv2d_0b_1x1")
        return tf.concat([branch_0, branch_1, branch_2, branch_3], axis=3)

    def _conv(self, net: tf.Tensor, scope: str, stride: int = 1) -> tf.Tensor:
        net = tf.nn.conv2d(net, self._weights[f"{scope}/weights"], stride, "SAME")
        if self._folded:
            net = tf.nn.bias_add(net, self._weights[scope + FOLDED_BIAS_SUFFIX])
        else:
            beta = self._weights[f"{scope}/BatchNorm/beta"]
            net, _, _ = tf.compat.v1.nn.fused_batch_norm(
                net,
                scale=tf.ones_like(beta),
                offset=beta,
                mean=self._weights[f"{scope}/BatchNorm/moving_mean"],
                variance=self._weights[f"{scope}/BatchNorm/moving_variance"],
                epsilon=BATCHNORM_EPSILON,
                is_training=False,
            )
        return tf.nn.relu(net)


def _max_pool(net: tf.Tensor, size: int, stride: int) -> tf.Tensor:
    return tf.nn.max_pool2d(net, ksize=size, strides=stride, padding="SAME")


def in_sub_batches(
    batch: tf.Tensor,
    to_logits: Callable[[tf.Tensor], tf.Tensor],
    size: int,
    width: int = NUM_CLASSES,
) -> tf.Tensor:
    """``to_logits`` (rows of ``width`` values) over consecutive chunks of at most ``size``
    rows, one chunk at a time.

    ``parallel_iterations=1`` is the point: the while loop may otherwise run up to 10 chunks
    at once and bring back the peak memory the chunking removes. Each row is computed exactly
    as it would be in one call, so the result equals the one-shot result."""
    rows = tf.shape(batch)[0]
    chunks = (rows + size - 1) // size
    logits = tf.TensorArray(tf.float32, size=chunks, infer_shape=False, element_shape=[None, width])

    def body(index: tf.Tensor, logits: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
        start = index * size
        return index + 1, logits.write(index, to_logits(batch[start : start + size]))

    _, logits = tf.while_loop(
        lambda index, _: index < chunks, body, (tf.constant(0), logits), parallel_iterations=1
    )
    return logits.concat()
