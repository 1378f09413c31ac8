"""The exporter's public API is ``inception_svm_export.__all__``: pinned here, so that a name
is added to or dropped from it on purpose, and every name in it resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import inception_svm_export

PUBLIC_API = [
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


def test_all_is_the_pinned_public_api() -> None:
    assert inception_svm_export.__all__ == PUBLIC_API


@pytest.mark.parametrize("name", PUBLIC_API)
def test_every_public_name_resolves_to_its_defining_module(name: str) -> None:
    value = getattr(inception_svm_export, name)
    assert name in dir(inception_svm_export)
    module = getattr(value, "__module__", None)
    if module is not None and module != "typing":  # Precision is a typing alias
        assert module.startswith("inception_svm_export.")
        assert getattr(sys.modules[module], name) is value


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'export_savedmodel'"):
        _ = inception_svm_export.export_savedmodel  # type: ignore[attr-defined]


def test_importing_the_package_does_not_import_tensorflow() -> None:
    """``inception-svm --help`` imports the package to find its commands: no TensorFlow."""
    code = (
        "import sys, inception_svm_export; "
        "print(sorted(m for m in ('tensorflow', 'inception_svm_export.saved_model') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
