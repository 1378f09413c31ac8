"""``inception-svm imagenet`` against the stand-in serving the session's SavedModel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inception_svm_client.cli import main
from inception_svm_client.config import ChannelConfig
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.inputs import path_inputs
from inception_svm_export.imagenet_labels import imagenet_labels
from tests.harness import ServerHandle
from tests.paths import DATA_DIR, unlabeled_photos

CAT = DATA_DIR / "samples" / "cat-with-tongue_224x224.jpg"


def run_imagenet(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["imagenet", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bundled_photos_get_their_top_classes_by_name(
    stand_in: ServerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(CAT), *map(str, unlabeled_photos())]
    code, out, err = run_imagenet(capsys, *paths, "--server", stand_in.grpc_target)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in records] == paths
    # The same ranking as softmax over the serving_default logits of the same photos.
    with Featurizer.connect(ChannelConfig(target=stand_in.grpc_target)) as featurizer:
        logits = np.stack([r.features for r in featurizer.featurize(path_inputs(paths))])
    expected = np.argsort(-logits, axis=1, kind="stable")[:, :5]
    labels = imagenet_labels()
    for record, classes, row in zip(records, expected, logits, strict=True):
        assert [c["index"] for c in record["top"]] == classes.tolist()
        assert [c["name"] for c in record["top"]] == [labels[i] for i in classes]
        probabilities = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        np.testing.assert_allclose(
            [c["probability"] for c in record["top"]], probabilities[classes], rtol=1e-4
        )
        assert record["checkpoint"].startswith("not the official")
    assert "weights: not the official" in err and "meaningless" in err


def test_table_top_k_and_bad_inputs(
    stand_in: ServerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    args = ["--server", stand_in.grpc_target, "--format", "table"]
    code, out, _ = run_imagenet(capsys, str(CAT), str(corrupt), "--top", "3", *args)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["path", "rank", "class", "probability", "name"]
    assert lines[1].startswith(str(CAT)) and [line.split()[0] for line in lines[2:4]] == ["2", "3"]
    assert lines[4].startswith(str(corrupt)) and "error:" in lines[4] and len(lines) == 5


def test_top_beyond_what_the_signature_returns_is_a_usage_error(
    stand_in: ServerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_imagenet(capsys, str(CAT), "--server", stand_in.grpc_target, "--top", "11")
    assert code == 2 and out == ""
    assert "--top must be between 1 and 10" in err
