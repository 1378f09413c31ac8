"""Which tensors run in reduced precision, and in which dtype they are stored.

``bf16`` runs every convolution unit in bfloat16 (oneDNN uses AVX512-BF16 / AMX on CPUs
that have them, about 2x the fp32 throughput) while the contract stays float32: the
``images``/``pixels`` inputs, the ``logits`` output, and the classifier head, which costs
~2 MFLOP of the ~3 GFLOP per image but whose rounding would land directly in the features
the SVM reads. Batch-norm statistics also stay float32 because TF's fused batch norm takes
bfloat16 activations with float32 parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from inception_svm_export.architecture import LOGITS_SCOPE
from inception_svm_export.export_config import Precision
from inception_svm_export.network import FOLDED_BIAS_SUFFIX

COMPUTE_DTYPES: dict[Precision, tf.DType] = {"fp32": tf.float32, "bf16": tf.bfloat16}


def runs_in_compute_dtype(name: str) -> bool:
    """Conv kernels and their (folded) biases; not the head, not batch-norm statistics."""
    if name.startswith(LOGITS_SCOPE):
        return False
    return name.endswith("/weights") or name.endswith(FOLDED_BIAS_SUFFIX)


def stored_weights(weights: Mapping[str, np.ndarray], precision: Precision) -> dict[str, tf.Tensor]:
    """Weights as the SavedModel stores them: already in the compute dtype.

    Stored in bf16 rather than stored in fp32 and cast in the graph at each call: both ran
    at the same speed on the AVX512-BF16 CPU we measured (~119 images/s at batch 32, vs
    ~61 for fp32), and stored bf16 shrinks the SavedModel from 27.7 to 16.5 MB, on disk and
    in the server's memory.
    """
    dtype = COMPUTE_DTYPES[precision]
    return {
        name: tf.cast(value, dtype) if runs_in_compute_dtype(name) else tf.constant(value)
        for name, value in weights.items()
    }
