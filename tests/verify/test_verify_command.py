"""``inception-svm verify`` as a user runs it (a separate process), against the stand-in
serving the export, against wrong models, with a wrong SVM and against nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inception_svm_client.svm._classifier import SvmClassifier, export_onnx
from inception_svm_client.svm._metadata import FeaturizerInfo, SvmMetadata
from inception_svm_client.verify.golden import golden_path_in, read_golden
from tests.harness import ServerHandle, free_port
from tests.reliability.cli import run_cli

EXIT_OK, EXIT_FAILED, EXIT_COULD_NOT_RUN = 0, 1, 2


def verify(*args: str) -> tuple[int, str]:
    result = run_cli("verify", *args)
    return result.returncode, result.stdout + result.stderr


def failed_checks(output: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line.startswith("FAIL")]


def test_passes_against_the_stand_in_serving_the_export(
    stand_in: ServerHandle, model_base_path: Path, trained_svm: Path
) -> None:
    code, output = verify(
        "--server",
        stand_in.grpc_target,
        "--model-dir",
        str(model_base_path),
        "--svm",
        str(trained_svm),
    )
    assert code == EXIT_OK, output
    lines = [line for line in output.splitlines() if line.startswith(("PASS", "FAIL", "N/A"))]
    names = [line[6:52].strip() for line in lines]
    assert names[:2] == ["model available", "metadata"]
    assert sum(name.startswith("golden ") for name in names) == 5
    assert names[-4:] == ["svm featurizer", "svm decisions", "imagenet cat", "latency"]
    # Random weights: the cat check does not apply, and is shown and counted as such.
    cat = next(line for line in lines if "imagenet cat" in line)
    assert cat.startswith("N/A ")
    assert "not applicable: not the official inception_v1_2016_08_28 checkpoint" in cat
    assert all(line.startswith("PASS") for line in lines if line is not cat), output
    assert f"all {len(lines) - 1} checks passed, 1 not applicable" in output


def test_json_output(stand_in: ServerHandle, model_base_path: Path) -> None:
    golden = golden_path_in(model_base_path)
    result = run_cli(
        "verify", "--server", stand_in.grpc_target, "--golden", str(golden), "--format", "json"
    )
    document = json.loads(result.stdout)
    assert result.returncode == EXIT_OK, result.stderr
    assert document["ok"] is True and document["error"] is None
    assert {c["name"] for c in document["checks"]} >= {"model available", "metadata", "latency"}
    cat = next(c for c in document["checks"] if c["name"] == "imagenet cat")
    assert cat["applicable"] is False and cat["ok"] is True  # random weights: not checked


@pytest.mark.parametrize("model", ["other_weights", "no_square_crop", "bf16"])
def test_fails_naming_the_golden_checks_against_a_wrong_model(
    wrong_models_server: ServerHandle, model_base_path: Path, model: str
) -> None:
    code, output = verify(
        "--server",
        wrong_models_server.grpc_target,
        "--model-dir",
        str(model_base_path),
        "--model-name",
        model,
    )
    assert code == EXIT_FAILED, output
    failed = failed_checks(output)
    assert failed and all(name == "golden" for name in failed), output
    assert "PASS  model available" in output and "PASS  metadata" in output
    if model == "no_square_crop":  # a square image is unaffected by the missing crop
        assert "PASS  golden jpeg-square-224x224" in output
        assert "FAIL  golden jpeg-landscape-640x427" in output
    else:
        assert len(failed) == 5, output


def test_bf16_model_passes_against_its_own_golden_outputs(
    wrong_models_server: ServerHandle, wrong_model_bases: dict[str, Path]
) -> None:
    """The fp32 tolerance, not the check itself, is what fails a bf16 model above."""
    code, output = verify(
        "--server",
        wrong_models_server.grpc_target,
        "--model-dir",
        str(wrong_model_bases["bf16"]),
        "--model-name",
        "bf16",
    )
    assert code == EXIT_OK, output
    assert "tolerance 0.02 " in output


def test_fails_with_an_svm_trained_on_another_version(
    stand_in: ServerHandle, model_base_path: Path, trained_svm: Path, tmp_path: Path
) -> None:
    trained = SvmClassifier.load(trained_svm).metadata
    golden = read_golden(golden_path_in(model_base_path))
    features = np.stack([item.logits for item in golden.inputs] * 2)
    from inception_svm_client.svm._classifier import train

    model, report = train(features, ["classic", "modern"] * len(golden.inputs))
    metadata = SvmMetadata(
        class_names=report.class_names,
        feature_dim=trained.feature_dim,
        featurizer=FeaturizerInfo("inception_v1", 2, "serving_default"),
        training_set_size=features.shape[0],
        trained_at=trained.trained_at,
        sklearn_version=trained.sklearn_version,
        loo_accuracy=None,
    )
    other = tmp_path / "svm-v2.onnx"
    other.write_bytes(export_onnx(model, metadata))
    code, output = verify(
        "--server", stand_in.grpc_target, "--model-dir", str(model_base_path), "--svm", str(other)
    )
    assert code == EXIT_FAILED, output
    assert failed_checks(output) == ["svm"], output
    assert "FAIL  svm featurizer" in output and "version 2" in output


def test_exit_2_when_nothing_listens(model_base_path: Path) -> None:
    code, output = verify(
        "--server",
        f"127.0.0.1:{free_port()}",
        "--model-dir",
        str(model_base_path),
        "--deadline",
        "5",
    )
    assert code == EXIT_COULD_NOT_RUN, output
    assert "could not verify" in output and "UNAVAILABLE" in output


def test_exit_2_without_golden_outputs(stand_in: ServerHandle, tmp_path: Path) -> None:
    code, output = verify("--server", stand_in.grpc_target, "--model-dir", str(tmp_path))
    assert code == EXIT_COULD_NOT_RUN, output
    assert "cannot read golden file" in output


def test_passes_with_an_svm_trained_on_prelogits(
    stand_in: ServerHandle, model_base_path: Path, tmp_path: Path
) -> None:
    from tests.client.svm_files import write_svm

    svm = write_svm(tmp_path / "prelogits.onnx", features="prelogits", version=1)
    code, output = verify(
        "--server", stand_in.grpc_target, "--model-dir", str(model_base_path), "--svm", str(svm)
    )
    assert code == EXIT_OK, output
    assert "PASS  svm featurizer" in output and "'features'" in output
    assert "PASS  svm decisions" in output


def test_exit_2_against_the_rest_port_as_classify_does(
    stand_in: ServerHandle, model_base_path: Path
) -> None:
    rest = stand_in.rest_url.split("://", 1)[1].rstrip("/")
    code, output = verify("--server", rest, "--model-dir", str(model_base_path), "--deadline", "5")
    assert code == EXIT_COULD_NOT_RUN, output
    assert "could not verify" in output and "WRONG_PORT" in output


def test_a_golden_file_that_is_not_a_regular_file_is_refused_without_hanging(
    tmp_path: Path,
) -> None:
    from tests.client.special_files import fifo, zero_device

    for golden in (fifo(tmp_path / "golden.json"), zero_device(tmp_path / "zero")):
        code, output = verify("--server", "127.0.0.1:1", "--golden", str(golden))
        assert code == EXIT_COULD_NOT_RUN, output
        assert "not a regular file: refused" in output
