"""The serving package's public API: what ``__all__`` promises, nothing more, nothing less.

Everything else under ``inception_svm_serving`` is the package's own and may move (issue 23
moved all of it); callers outside the package, the exporter first, use these names.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import inception_svm_serving

EXPORTED = {
    "Code",
    "ConfigError",
    "InceptionSvmServingError",
    "ServerOptions",
    "ServerProcess",
    "ServerStartError",
    "ServingError",
    "header_dimensions",
    "is_jpeg",
    "launched_command",
    "load_batching_parameters",
    "main",
    "stand_in_command",
}


def test_all_is_the_pinned_public_api() -> None:
    assert set(inception_svm_serving.__all__) == EXPORTED
    assert len(inception_svm_serving.__all__) == len(EXPORTED)


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_every_exported_member_resolves_to_the_package_own_object(name: str) -> None:
    member = getattr(inception_svm_serving, name)
    assert member.__module__.startswith("inception_svm_serving.")
    assert name in dir(inception_svm_serving)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        inception_svm_serving.no_such_name  # noqa: B018


def test_importing_the_package_loads_nothing_heavy() -> None:
    """``python -m inception_svm_serving.launch`` and ``serve --help`` go through the package:
    its names load on first use, so importing it must pull in neither TensorFlow nor gRPC."""
    probe = (
        "import sys, inception_svm_serving; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tensorflow_serving', 'grpc') or m.startswith('inception_svm_serving.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
