"""The thin client as a distribution: its metadata, its typed public API, a light import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path

import inception_svm_client
from tests.harness import subprocess_env


def test_distribution_metadata() -> None:
    meta = metadata("inception-svm-client")
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Author"]
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert set(meta.get_all("Provides-Extra") or []) >= {"train", "report"}
    requirements = " ".join(meta.get_all("Requires-Dist") or [])
    assert "tensorflow" not in requirements  # the thin client's promise
    assert "pillow" in requirements and 'extra == "report"' in requirements


def test_public_api_is_importable_from_the_package() -> None:
    for name in inception_svm_client.__all__:
        assert getattr(inception_svm_client, name) is not None, name
    from inception_svm_client import Featurizer, SvmClassifier

    assert Featurizer.__module__ == "inception_svm_client.grpc._featurizer"
    assert SvmClassifier.__module__ == "inception_svm_client.svm._classifier"
    package_dir = Path(inception_svm_client.__file__).parent
    assert (package_dir / "py.typed").is_file()


def test_importing_the_package_loads_neither_grpc_nor_onnxruntime() -> None:
    """A light import (they load on first use). TensorFlow is kept out of every client
    module statically, by the `thin-client` contract of `lint-imports` (make lint)."""
    code = (
        "import sys, inception_svm_client, inception_svm_client.cli;"
        "print(sorted(m for m in ('grpc', 'onnxruntime') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"
