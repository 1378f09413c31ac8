"""The stand-in's former way of running a SavedModel, kept only as the baseline of
``runtime_paths``: TF2 signature functions from ``tf.saved_model.load`` (what an in-process
user calls), where the stand-in now runs a TF1 session as TF Serving does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from inception_svm_serving.core.runtime import SERVE_TAG


class FunctionModel:
    def __init__(self, path: Path) -> None:
        self._functions = dict(tf.saved_model.load(str(path), tags=[SERVE_TAG]).signatures)

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self._functions[signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}
