"""Shared, expensive pieces of the reliability suite: one production-configured server and
one set of generated bad inputs for the whole session.

The server runs with the production batching parameters (requests of up to 64 images split
into execution batches of 8, bounded queue), so "batch larger than allowed" and the memory
checks see the same limits a deployment has.
Scenarios that must own their server (restarts, overload, version swap, TLS) start their
own instead of disturbing this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import BATCHING_PARAMETERS, REPO_ROOT, ServerHandle, running_server
from tests.reliability.bad_inputs import write_bad_inputs
from tests.reliability.cli import run_cli

DATA_DIR = REPO_ROOT / "client" / "inception_svm_client" / "data"
CARS_DIR = DATA_DIR / "cars"
PRODUCTION_BATCHING_FLAGS = (
    "--enable_batching=true",
    f"--batching_parameters_file={BATCHING_PARAMETERS}",
)


def car_photos() -> list[Path]:
    """The 27 bundled car photos (labelled and unlabelled), in a stable order."""
    return sorted(CARS_DIR.glob("*/*.jpg")) + sorted(CARS_DIR.glob("*/*/*.jpg"))


@pytest.fixture(scope="session")
def reliability_server(model_base_path: Path) -> Iterator[ServerHandle]:
    with running_server(model_base_path, extra_flags=PRODUCTION_BATCHING_FLAGS) as server:
        yield server


@pytest.fixture(scope="session")
def bad_input_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    photo = car_photos()[0].read_bytes()
    return write_bad_inputs(tmp_path_factory.mktemp("bad-inputs"), photo)


@pytest.fixture(scope="session")
def svm_onnx(reliability_server: ServerHandle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SVM trained by the real ``train`` command on the 20 bundled labelled photos."""
    output = tmp_path_factory.mktemp("svm") / "svm.onnx"
    result = run_cli(
        "train", str(CARS_DIR / "train"), "--server", reliability_server.grpc_target,
        "--output", str(output), "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return output
