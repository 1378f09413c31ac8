"""The linear SVM in ONNX: applying it (onnxruntime only), its metadata, and training it.

Training (``svm._training``) is not re-exported: it needs the ``train`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inception_svm_client._lazy import lazy_exports

if TYPE_CHECKING:
    from inception_svm_client.svm._classifier import Prediction, SvmClassifier
    from inception_svm_client.svm._metadata import SvmMetadata

__all__ = ["Prediction", "SvmClassifier", "SvmMetadata"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Prediction": "_classifier",
        "SvmClassifier": "_classifier",
        "SvmMetadata": "_metadata",
    },
)
