"""Session fixtures shared by every engineer's tests.

Exporting the SavedModel costs seconds of CPU, so the whole session shares one random
checkpoint and one folded export; tests that need something else build it themselves.
TensorFlow is imported inside the fixtures so that client-only tests never load it.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import pytest

# Inherited by every subprocess the tests start (servers, CLIs): keeps TF's C++ logs quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def bundled_photos() -> Path:
    """The demo data dir shipped in the client package (cars/, samples/, SOURCES.md)."""
    return Path(str(files("inception_svm_client") / "data"))


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
    from inception_svm_export.config import ExportConfig
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
