"""The session's exported SavedModel, as the export tests open it."""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf


@pytest.fixture(scope="module")
def version_dir(model_base_path: Path) -> Path:
    return model_base_path / "1"


@pytest.fixture(scope="module")
def model(version_dir: Path) -> tf.Module:
    return tf.saved_model.load(str(version_dir))
