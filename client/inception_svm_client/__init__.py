"""Thin client for an Inception v1 featurizer served by TensorFlow Serving.

Importing this package must never import TensorFlow: production systems embed it. The
public API is importable from here (``from inception_svm_client import Featurizer``,
``AsyncFeaturizer`` for asyncio); the names resolve on first use, so ``inception-svm
--help`` and plain ``import inception_svm_client`` do not pay for gRPC and onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name → module defining it.
_PUBLIC = {
    "AsyncFeaturizer": "async_featurizer",
    "ChannelConfig": "featurizer_config",
    "FeaturizerConfig": "featurizer_config",
    "RetryPolicy": "featurizer_config",
    "ModelTarget": "featurizer_config",
    "TlsConfig": "featurizer_config",
    "ClientError": "errors",
    "SignatureMismatchError": "errors",
    "FeatureResult": "featurizer",
    "Featurizer": "featurizer",
    "path_inputs": "inputs",
    "ClassifyRecord": "records",
    "Prediction": "svm",
    "SvmClassifier": "svm",
    "SvmMetadata": "svm_metadata",
}
__all__ = [
    "AsyncFeaturizer",
    "ChannelConfig",
    "ClassifyRecord",
    "ClientError",
    "FeatureResult",
    "Featurizer",
    "FeaturizerConfig",
    "ModelTarget",
    "Prediction",
    "RetryPolicy",
    "SignatureMismatchError",
    "SvmClassifier",
    "SvmMetadata",
    "TlsConfig",
    "__version__",
    "path_inputs",
]

if TYPE_CHECKING:
    from inception_svm_client.async_featurizer import AsyncFeaturizer
    from inception_svm_client.errors import ClientError, SignatureMismatchError
    from inception_svm_client.featurizer import FeatureResult, Featurizer
    from inception_svm_client.featurizer_config import (
        ChannelConfig,
        FeaturizerConfig,
        ModelTarget,
        RetryPolicy,
        TlsConfig,
    )
    from inception_svm_client.inputs import path_inputs
    from inception_svm_client.records import ClassifyRecord
    from inception_svm_client.svm import Prediction, SvmClassifier
    from inception_svm_client.svm_metadata import SvmMetadata


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
