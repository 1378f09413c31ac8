"""Models a deployment can wrongly serve, all of the session checkpoint's shape, served by
one stand-in (one model name each, so one start-up covers every case):

- ``other_weights``: the same export from another random checkpoint;
- ``no_square_crop``: the session checkpoint exported without the middle-square crop (the
  exporter has no such option: the test exports with ``crop_middle_square`` replaced by the
  identity, which is exactly "another preprocessing");
- ``bf16``: the session checkpoint exported with ``--precision bf16``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import ServerHandle, running_server

WRONG_MODELS = ("other_weights", "no_square_crop", "bf16")


def _export(checkpoint: Path, base: Path, cache: Path, **overrides: object) -> Path:
    from inception_svm_export.export_config import ExportConfig
    from inception_svm_export.saved_model import export_saved_model

    config = ExportConfig(
        checkpoint=str(checkpoint),
        model_dir=base,
        version=1,
        cache_dir=cache,
        show_progress=False,
        **overrides,  # type: ignore[arg-type]
    )
    return export_saved_model(config)


@pytest.fixture(scope="session")
def wrong_model_bases(
    tmp_path_factory: pytest.TempPathFactory, random_checkpoint_v1: Path
) -> dict[str, Path]:
    from inception_svm_export import preprocessing
    from inception_svm_export.random_checkpoint import write_random_checkpoint

    root = tmp_path_factory.mktemp("wrong-models")
    cache = tmp_path_factory.mktemp("cache")
    other = write_random_checkpoint(root / "other.ckpt", fmt="v1", seed=1)
    bases = {name: root / name for name in WRONG_MODELS}
    _export(other, bases["other_weights"], cache)
    _export(random_checkpoint_v1, bases["bf16"], cache, precision="bf16")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(preprocessing, "crop_middle_square", lambda image: image)
        # The crop-window JPEG decode (the default) has the square in its window arithmetic:
        # the reference path is the one whose square crop the patch above removes.
        patch.setattr(preprocessing, "DEFAULT_PREPROCESS", preprocessing.preprocess_image)
        _export(random_checkpoint_v1, bases["no_square_crop"], cache)
    return bases


@pytest.fixture(scope="session")
def wrong_models_server(
    tmp_path_factory: pytest.TempPathFactory, wrong_model_bases: dict[str, Path]
) -> Iterator[ServerHandle]:
    config = tmp_path_factory.mktemp("wrong-config") / "models.config"
    entries = "".join(
        f'  config {{ name: "{name}" base_path: "{base}" model_platform: "tensorflow" }}\n'
        for name, base in wrong_model_bases.items()
    )
    config.write_text(f"model_config_list {{\n{entries}}}\n")
    with running_server(model_config_file=config) as handle:
        yield handle
