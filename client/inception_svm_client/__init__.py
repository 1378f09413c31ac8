"""Thin client for an Inception v1 featurizer served by TensorFlow Serving.

Importing this package must never import TensorFlow: production systems embed it. The
public API is importable from here (``from inception_svm_client import Featurizer``,
``AsyncFeaturizer`` for asyncio); the names resolve on first use, so ``inception-svm
--help`` and plain ``import inception_svm_client`` do not pay for gRPC and onnxruntime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inception_svm_client._lazy import lazy_exports

__version__ = "0.1.0"

# Public name → the module (a subpackage re-exporting it, or a leaf) that offers it.
_PUBLIC = {
    "AsyncFeaturizer": "grpc.aio",
    "ChannelConfig": "config",
    "FeaturizerConfig": "config",
    "RetryPolicy": "config",
    "ModelTarget": "config",
    "TlsConfig": "config",
    "ClientError": "exceptions",
    "SignatureMismatchError": "exceptions",
    "FeatureResult": "grpc",
    "Featurizer": "grpc",
    "path_inputs": "inputs",
    "ClassifyRecord": "records",
    "Prediction": "svm",
    "SvmClassifier": "svm",
    "SvmMetadata": "svm",
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
    from inception_svm_client.config import (
        ChannelConfig,
        FeaturizerConfig,
        ModelTarget,
        RetryPolicy,
        TlsConfig,
    )
    from inception_svm_client.exceptions import ClientError, SignatureMismatchError
    from inception_svm_client.grpc import FeatureResult, Featurizer
    from inception_svm_client.grpc.aio import AsyncFeaturizer
    from inception_svm_client.inputs import path_inputs
    from inception_svm_client.records import ClassifyRecord
    from inception_svm_client.svm import Prediction, SvmClassifier, SvmMetadata


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
