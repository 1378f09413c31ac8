"""Our native TF2 Inception v1 equals TF-Slim's own graph, from checkpoints TF-Slim wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from inception_svm_client.cli import main as cli_main
from inception_svm_export.architecture import official_variables
from inception_svm_export.export_config import ExportConfig
from inception_svm_export.preprocessing import preprocess_batch
from inception_svm_export.saved_model import export_saved_model
from tests.export.slim_reference import SlimReference, build_slim_reference

LOGITS_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def photos(bundled_photos: Path) -> list[bytes]:
    paths = sorted((bundled_photos / "cars" / "unlabeled").glob("*.jpg"))[:3]
    paths.append(bundled_photos / "samples" / "cat-with-tongue_224x224.jpg")
    return [p.read_bytes() for p in paths]


@pytest.fixture(scope="module")
def slim(photos: list[bytes], tmp_path_factory: pytest.TempPathFactory) -> SlimReference:
    return build_slim_reference(photos, tmp_path_factory.mktemp("slim"))


@pytest.fixture(scope="module")
def unfolded_from_v1(slim: SlimReference, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exported through the real CLI entry point, so its happy path is covered too."""
    model_dir = tmp_path_factory.mktemp("unfolded")
    argv = ["export", "--checkpoint", str(slim.checkpoint_v1), "--model-dir", str(model_dir)]
    argv += ["--no-fold-batchnorm", "--cache-dir", str(tmp_path_factory.mktemp("cache"))]
    assert cli_main(argv) == 0
    return model_dir / "1"


@pytest.fixture(scope="module")
def folded_from_v2(slim: SlimReference, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_saved_model(
        ExportConfig(
            checkpoint=str(slim.checkpoint_v2),
            model_dir=tmp_path_factory.mktemp("folded"),
            fold_batchnorm=True,
            cache_dir=tmp_path_factory.mktemp("cache"),
            show_progress=False,
        )
    )


_loaded: dict[Path, tf.Module] = {}


def _logits(
    version_dir: Path, signature: str, output: str = "logits", **inputs: tf.Tensor
) -> np.ndarray:
    if version_dir not in _loaded:  # loading costs seconds; each model is loaded once
        _loaded[version_dir] = tf.saved_model.load(str(version_dir))
    return _loaded[version_dir].signatures[signature](**inputs)[output].numpy()


def test_slim_graph_declares_exactly_the_official_variables(slim: SlimReference) -> None:
    assert slim.variable_shapes == official_variables()


def test_in_graph_preprocessing_equals_the_tf1_ops(
    slim: SlimReference, photos: list[bytes]
) -> None:
    ours = preprocess_batch(tf.constant(photos)).numpy()
    np.testing.assert_allclose(ours, slim.pixels, rtol=0, atol=1e-6)
    assert ours.min() >= -1.0 and ours.max() <= 1.0


@pytest.mark.parametrize("export_fixture", ["unfolded_from_v1", "folded_from_v2"])
def test_logits_equal_slim_from_the_same_pixels_and_bytes(
    export_fixture: str,
    slim: SlimReference,
    photos: list[bytes],
    request: pytest.FixtureRequest,
) -> None:
    version_dir: Path = request.getfixturevalue(export_fixture)
    from_pixels = _logits(version_dir, "predict_pixels", pixels=tf.constant(slim.pixels))
    from_bytes = _logits(version_dir, "serving_default", images=tf.constant(photos))
    assert from_pixels.shape == slim.logits.shape == (len(photos), 1001)
    assert np.abs(from_pixels - slim.logits).max() <= LOGITS_TOLERANCE
    assert np.abs(from_bytes - slim.logits).max() <= LOGITS_TOLERANCE
    # Not vacuous: the photos must give distinguishable logits.
    assert np.abs(slim.logits[0] - slim.logits[1]).max() > 100 * LOGITS_TOLERANCE


def test_folding_batchnorm_changes_logits_only_by_rounding(
    unfolded_from_v1: Path, folded_from_v2: Path, slim: SlimReference
) -> None:
    pixels = tf.constant(slim.pixels)
    unfolded = _logits(unfolded_from_v1, "predict_pixels", pixels=pixels)
    folded = _logits(folded_from_v2, "predict_pixels", pixels=pixels)
    relative = np.abs(folded - unfolded).max() / np.abs(unfolded).max()
    assert relative < 1e-5


@pytest.mark.parametrize("export_fixture", ["unfolded_from_v1", "folded_from_v2"])
def test_prelogits_equal_slims_avgpool_endpoint(
    export_fixture: str,
    slim: SlimReference,
    photos: list[bytes],
    request: pytest.FixtureRequest,
) -> None:
    version_dir: Path = request.getfixturevalue(export_fixture)
    ours = _logits(version_dir, "features", "prelogits", images=tf.constant(photos))
    theirs = slim.prelogits.reshape(len(photos), 1024)  # SpatialSqueeze of [N, 1, 1, 1024]
    assert slim.prelogits.shape == (len(photos), 1, 1, 1024)
    assert np.abs(ours - theirs).max() <= LOGITS_TOLERANCE * max(1.0, np.abs(theirs).max())
    assert np.abs(theirs[0] - theirs[1]).max() > 100 * LOGITS_TOLERANCE  # not vacuous
