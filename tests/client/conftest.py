"""Fixtures of the client tests: the real stand-in serving the session's SavedModel, and
one SVM trained through it (both shared: each costs seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inception_svm_client.cli import main
from tests.harness import ServerHandle, running_server


@pytest.fixture(scope="session")
def stand_in(model_base_path: Path) -> Iterator[ServerHandle]:
    with running_server(model_base_path) as handle:
        yield handle


@pytest.fixture(scope="session")
def trained_svm(
    stand_in: ServerHandle, bundled_photos: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """svm.onnx (+ svm.training.json beside it) trained on the 20 bundled photos."""
    output = tmp_path_factory.mktemp("svm") / "svm.onnx"
    code = main(
        [
            "train",
            str(bundled_photos / "cars" / "train"),
            "--server",
            stand_in.grpc_target,
            "--output",
            str(output),
            "--no-progress",
        ]
    )
    assert code == 0
    return output
