"""The public API of the thin client is the top-level ``__all__``: pinned here so that a
rename or a move inside the package cannot silently change what users import."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import inception_svm_client

PUBLIC = [
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
SUBPACKAGES = ["grpc", "grpc.aio", "svm", "report", "verify"]


def test_all_is_pinned() -> None:
    assert inception_svm_client.__all__ == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(inception_svm_client, name) is not None
    assert name in dir(inception_svm_client)


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_each_subpackage_offers_what_its_all_names(subpackage: str) -> None:
    module = importlib.import_module(f"inception_svm_client.{subpackage}")
    assert module.__all__
    for name in module.__all__:
        value = getattr(module, name)
        # The top level re-exports the same object, not a copy.
        if name in PUBLIC:
            assert getattr(inception_svm_client, name) is value


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        inception_svm_client.Nope  # noqa: B018


def test_light_modules_do_not_import_grpc() -> None:
    """Re-exports resolve on first use: importing the package, a leaf, or the golden file
    reader (as the exporter does) must not pay for gRPC or onnxruntime."""
    code = (
        "import sys, inception_svm_client, inception_svm_client.config, "
        "inception_svm_client.verify.golden, inception_svm_client.svm._metadata; "
        "print(sorted(m for m in ('grpc', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
