"""The golden outputs an export writes into its version dir."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from inception_svm_client.verify.golden import Golden, GoldenError, golden_path_in, read_golden


def test_export_writes_golden_outputs_of_the_saved_model(
    model_base_path: Path, random_checkpoint_v1: Path
) -> None:
    import tensorflow as tf

    path = model_base_path / "1" / "assets.extra" / "inception_svm_golden.json"
    golden = read_golden(path)
    assert golden_path_in(model_base_path) == path  # base path → its highest version
    identity = golden.identity
    assert (identity.model, identity.version, identity.precision) == ("inception_v1", 1, "fp32")
    assert (
        identity.checkpoint_sha256 == hashlib.sha256(random_checkpoint_v1.read_bytes()).hexdigest()
    )
    assert identity.preprocessing_version and identity.fold_batchnorm
    assert golden.tolerance.relative == 0.002 and "bf16" in golden.tolerance.why
    names = [item.name for item in golden.inputs]
    assert any(n.startswith("png-rgba") for n in names) and any(n.startswith("bmp") for n in names)
    assert any("grayscale-progressive" in n for n in names) and any("portrait" in n for n in names)
    # Each input alone, through the SavedModel on disk, gives its recorded logits.
    serving = tf.saved_model.load(str(model_base_path / "1")).signatures["serving_default"]
    for item in golden.inputs:
        logits = serving(images=tf.constant([item.data]))["logits"].numpy()[0]
        assert item.logits.shape == (1001,)
        np.testing.assert_allclose(logits, item.logits, rtol=0, atol=1e-4, err_msg=item.name)


def test_golden_file_round_trips_and_refuses_tampering(model_base_path: Path) -> None:
    golden = read_golden(golden_path_in(model_base_path))
    again = Golden.from_json(golden.to_json())
    assert [i.logits.tobytes() for i in again.inputs] == [i.logits.tobytes() for i in golden.inputs]
    tampered = golden.to_json().replace(golden.inputs[0].sha256, "0" * 64)
    with pytest.raises(GoldenError, match="does not match its sha256"):
        Golden.from_json(tampered)
    with pytest.raises(GoldenError, match="not a golden file"):
        Golden.from_json('{"format_version": 1}')
