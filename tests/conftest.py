"""Session fixtures shared by every engineer's tests.

Exporting the SavedModel costs seconds of CPU and starting a server loads TF and the model
(~10 s), so the whole session shares one random checkpoint, one folded export, one plain
and one production-batching server, and one SVM; tests that need something else build it
themselves. TensorFlow and gRPC are imported inside the fixtures so that client-only tests
never load TF and the Kubernetes tests load neither.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.paths import CARS_DIR, DATA_DIR

if TYPE_CHECKING:
    from tests.harness import ServerHandle

# Inherited by every subprocess the tests start (servers, CLIs): keeps TF's C++ logs quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def bundled_photos() -> Path:
    """The demo data dir shipped in the client package (cars/, samples/, SOURCES.md)."""
    return DATA_DIR


@pytest.fixture(scope="session")
def random_checkpoint_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A V1 single-file checkpoint like the released ``inception_v1.ckpt``, random weights."""
    from inception_svm_export.random_checkpoint import write_random_checkpoint

    return write_random_checkpoint(
        tmp_path_factory.mktemp("checkpoint") / "inception_v1.ckpt", fmt="v1", seed=0
    )


@pytest.fixture(scope="session")
def model_base_path(tmp_path_factory: pytest.TempPathFactory, random_checkpoint_v1: Path) -> Path:
    """A TF Serving model base path holding version ``1/`` (batch norm folded)."""
    from inception_svm_export.export_config import ExportConfig
    from inception_svm_export.saved_model import export_saved_model

    base = tmp_path_factory.mktemp("models") / "inception_v1"
    export_saved_model(
        ExportConfig(
            checkpoint=str(random_checkpoint_v1),
            model_dir=base,
            version=1,
            fold_batchnorm=True,
            cache_dir=tmp_path_factory.mktemp("cache"),
            show_progress=False,
        )
    )
    return base


@pytest.fixture(scope="session")
def stand_in(model_base_path: Path) -> Iterator[ServerHandle]:
    """The stand-in serving ``model_base_path`` with default flags."""
    from tests.harness import running_server

    with running_server(model_base_path) as handle:
        yield handle


@pytest.fixture(scope="session")
def batching_server(model_base_path: Path) -> Iterator[ServerHandle]:
    """The stand-in serving ``model_base_path`` with the production batching parameters, so
    batch limits and memory checks see what a deployment has. Tests measuring it (metrics,
    RSS) compare before and after within one test or module."""
    from tests.harness import PRODUCTION_BATCHING_FLAGS, running_server

    with running_server(model_base_path, extra_flags=PRODUCTION_BATCHING_FLAGS) as server:
        yield server


@pytest.fixture(scope="session")
def trained_svm(stand_in: ServerHandle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """svm.onnx (+ svm.training.json beside it) trained by the real ``train`` command on the
    20 bundled labelled photos."""
    from inception_svm_client.cli import main

    output = tmp_path_factory.mktemp("svm") / "svm.onnx"
    code = main(
        [
            "train",
            str(CARS_DIR / "train"),
            "--server",
            stand_in.grpc_target,
            "--output",
            str(output),
            "--no-progress",
        ]
    )
    assert code == 0
    return output


# What makes a test an integration test (marker ``integration``, see pyproject.toml): a
# fixture that exports a SavedModel or starts a server process, or a home in one of the
# integration suites' folders. ``make test-quick`` runs everything else.
INTEGRATION_FIXTURES = frozenset(
    {
        "model_base_path",
        "stand_in",
        "batching_server",
        "trained_svm",
        "wrong_models_server",
        "wrong_model_bases",
        "target",
    }
)
INTEGRATION_FOLDERS = frozenset(
    {"reliability", "conformance", "end_to_end", "benchmarks", "k8s"}  # k8s: make k8s-validate
)
# Files whose tests start processes or build whole networks without a shared fixture.
INTEGRATION_FILES = frozenset(
    {
        "export/test_precision.py",  # exports a bf16 model
        "export/test_slim_equivalence.py",  # builds TF-Slim's graph next to ours
        "export/test_sub_batching.py",  # runs the network over 64-image batches
        "export/test_export_command.py",  # runs the console script (TF import per process)
        "serving/test_process.py",  # starts server processes
        "test_run_isolated.py",  # runs pytest in child processes
        "test_readme.py",  # runs the README's commands
    }
)
# Single tests of a unit file that need an outside program.
INTEGRATION_TESTS = frozenset(
    {"client/report/test_classify.py::test_large_report_in_headless_chromium"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark integration tests by what they use, so no test file has to remember to."""
    tests_dir = Path(__file__).parent
    for item in items:
        relative = Path(item.path).relative_to(tests_dir)
        test_id = f"{relative.as_posix()}::{item.name}"
        uses = set(getattr(item, "fixturenames", ()))
        if (
            relative.parts[0] in INTEGRATION_FOLDERS
            or relative.as_posix() in INTEGRATION_FILES
            or test_id in INTEGRATION_TESTS
            or uses & INTEGRATION_FIXTURES
        ):
            item.add_marker(pytest.mark.integration)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of tests/conformance: run it against any TF Serving instead of the stand-in."""
    group = parser.getgroup("conformance", "tests/conformance against a running server")
    group.addoption("--target", metavar="HOST:PORT", help="gRPC address of the server to test")
    group.addoption(
        "--rest-target", metavar="URL", help="its REST base URL, e.g. http://localhost:8501"
    )
    group.addoption("--target-model", default="inception_v1", help="the model name it serves")
    group.addoption(
        "--golden", metavar="FILE", help="the served export's inception_svm_golden.json"
    )
