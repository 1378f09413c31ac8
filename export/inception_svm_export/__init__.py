"""Checkpoint → TF-Serving SavedModel exporter for TF-Slim's Inception v1.

The network is rebuilt natively in TF2 (``network.py``) so the runtime never depends on
tf-slim; tf-slim is only the reference the tests compare against.

The public API is ``__all__``. The names whose modules import TensorFlow are resolved on
first use (PEP 562), so that importing the package, as ``inception-svm --help`` does to find
its commands, does not pay seconds for TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from inception_svm_export.exceptions import (
    CheckpointError,
    DemoError,
    ExportError,
    ExportSettingError,
    ManifestError,
    VersionDirError,
    WarmupError,
)
from inception_svm_export.export_config import PRECISIONS, ExportConfig, Precision

if TYPE_CHECKING:
    from inception_svm_export.checkpoint import load_checkpoint, resolve_checkpoint
    from inception_svm_export.random_checkpoint import write_random_checkpoint
    from inception_svm_export.saved_model import export_saved_model

__all__ = [
    "PRECISIONS",
    "CheckpointError",
    "DemoError",
    "ExportConfig",
    "ExportError",
    "ExportSettingError",
    "ManifestError",
    "Precision",
    "VersionDirError",
    "WarmupError",
    "export_saved_model",
    "load_checkpoint",
    "resolve_checkpoint",
    "write_random_checkpoint",
]

# Name → the module that defines it, imported on first access.
_LAZY = {
    "export_saved_model": "inception_svm_export.saved_model",
    "load_checkpoint": "inception_svm_export.checkpoint",
    "resolve_checkpoint": "inception_svm_export.checkpoint",
    "write_random_checkpoint": "inception_svm_export.random_checkpoint",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
