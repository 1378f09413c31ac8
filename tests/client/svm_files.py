"""A real ONNX SVM written without a server: for CLI tests whose refusal comes before any
call (a bad --output, --resume or flag), so they need no featurizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inception_svm_client.contract import FEATURE_SIGNATURES, NUM_CLASSES, PRELOGITS_DIM
from inception_svm_client.svm._classifier import export_onnx, train
from inception_svm_client.svm._metadata import FeaturizerInfo, SvmMetadata


def write_svm(path: Path, features: str = "logits", version: int = 1) -> Path:
    """A LinearSVC on random features of the given kind, with the metadata ``train``
    writes (model inception_v1, the kind's signature, ``version``)."""
    import sklearn

    dim = NUM_CLASSES if features == "logits" else PRELOGITS_DIM
    rows = np.random.default_rng(0).normal(size=(8, dim)).astype(np.float32)
    model, report = train(rows, ["classic", "modern"] * 4)
    metadata = SvmMetadata(
        class_names=report.class_names,
        feature_dim=dim,
        featurizer=FeaturizerInfo("inception_v1", version, FEATURE_SIGNATURES[features]),
        training_set_size=rows.shape[0],
        trained_at="2026-01-01T00:00:00+00:00",
        sklearn_version=sklearn.__version__,
        loo_accuracy=None,
        features=features,
    )
    path.write_bytes(export_onnx(model, metadata))
    return path
