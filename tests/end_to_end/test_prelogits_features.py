"""``train``/``classify --features prelogits`` end to end, and refusing mismatched features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inception_svm_client.cli import main
from inception_svm_client.config import FeaturizerConfig, ModelTarget
from inception_svm_client.exceptions import ClientError
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._imagenet import imagenet_config
from inception_svm_client.protos import messages
from inception_svm_client.svm._classifier import SvmClassifier
from inception_svm_client.svm._metadata import SvmMetadata
from tests.harness import ServerHandle
from tests.paths import CARS_DIR, unlabeled_photos


@pytest.fixture(scope="module")
def prelogits_svm(stand_in: ServerHandle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("prelogits") / "svm.onnx"
    args = ["train", str(CARS_DIR / "train"), "--server", stand_in.grpc_target]
    assert main([*args, "--output", str(output), "--features", "prelogits", "--no-progress"]) == 0
    return output


def classify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["classify", *map(str, unlabeled_photos()), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prelogits_svm_records_its_features(prelogits_svm: Path) -> None:
    meta = SvmClassifier.load(prelogits_svm).metadata
    assert (meta.features, meta.feature_dim) == ("prelogits", 1024)
    assert meta.featurizer.signature_name == "features"


def test_classify_requests_the_features_the_svm_was_trained_on(
    stand_in: ServerHandle, prelogits_svm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = classify(capsys, "--server", stand_in.grpc_target, "--svm", str(prelogits_svm))
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 7 and {r["label"] for r in records} <= {"classic", "modern"}


@pytest.mark.parametrize(
    "svm_fixture, features, trained_on",
    [("prelogits_svm", "logits", "prelogits"), ("trained_svm", "prelogits", "logits")],
)
def test_classify_refuses_features_that_contradict_the_svm(
    stand_in: ServerHandle,
    svm_fixture: str,
    features: str,
    trained_on: str,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    svm_path: Path = request.getfixturevalue(svm_fixture)
    capsys.readouterr()  # what training the fixture printed, if it ran just now
    server = ["--server", stand_in.grpc_target]
    code, out, err = classify(capsys, *server, "--svm", str(svm_path), "--features", features)
    assert code == 2 and out == ""
    assert f"trained on {trained_on} features, not {features}" in err


def test_classify_refuses_a_signature_serving_other_features(
    stand_in: ServerHandle, prelogits_svm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--signature serving_default has no 'prelogits' output: refused before any image."""
    server = ["--server", stand_in.grpc_target, "--signature", "serving_default"]
    code, out, err = classify(capsys, *server, "--svm", str(prelogits_svm))
    assert code == 2 and out == ""
    assert "no output 'prelogits'" in err


def test_svm_metadata_without_features_means_logits_and_unknown_is_refused(
    trained_svm: Path,
) -> None:
    props = SvmClassifier.load(trained_svm).metadata.to_props()
    assert props.pop("features") == "logits"
    assert SvmMetadata.from_props(props).features == "logits"
    with pytest.raises(ClientError, match="unknown features 'pool5'"):
        SvmMetadata.from_props({**props, "features": "pool5"})


@pytest.mark.parametrize(
    "spec, wanted",
    [
        (ModelTarget(signature_name="features", output_name="prelogits"), ["prelogits"]),
        (
            imagenet_config(FeaturizerConfig(), None).target,
            ["probabilities", "classes", "class_names", "checkpoint"],
        ),
    ],
)
def test_requests_name_only_the_outputs_they_use(spec: ModelTarget, wanted: list[str]) -> None:
    request = messages.PredictRequest.FromString(wire.encode_predict_request(spec, [b"x"]))
    assert list(request.output_filter) == wanted
    assert request.model_spec.signature_name == spec.signature_name
