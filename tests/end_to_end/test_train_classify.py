"""train → classify through the real stand-in serving the session's SavedModel."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inception_svm_client.cli import main
from inception_svm_client.config import ChannelConfig
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.inputs import path_inputs
from inception_svm_client.svm._classifier import SvmClassifier
from tests.harness import ServerHandle, free_port
from tests.svm_files import retagged_svm

REPO_ROOT = Path(__file__).resolve().parents[2]


def unlabeled(bundled_photos: Path) -> list[Path]:
    return sorted((bundled_photos / "cars" / "unlabeled").glob("*.jpg"))


def run_classify(
    capsys: pytest.CaptureFixture[str], *args: str, stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        original, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        code = main(["classify", *args])
    finally:
        if stdin is not None:
            sys.stdin = original
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_trained_svm_carries_its_metadata(trained_svm: Path) -> None:
    classifier = SvmClassifier.load(trained_svm)
    meta = classifier.metadata
    assert meta.class_names == ["classic", "modern"]
    assert meta.feature_dim == 1001
    assert meta.training_set_size == 20
    assert (meta.featurizer.model_name, meta.featurizer.model_version) == ("inception_v1", 1)
    assert meta.featurizer.signature_name == "serving_default"
    # What the export recorded about its weights, read through the served model.
    assert meta.weights is not None
    assert meta.weights.startswith("not the official inception_v1_2016_08_28 checkpoint")
    report = json.loads(trained_svm.with_suffix(".training.json").read_text())
    assert sum(map(sum, report["confusion_matrix"])) == 20


def test_classify_jsonl_in_input_order(
    stand_in: ServerHandle,
    trained_svm: Path,
    bundled_photos: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = [str(p) for p in unlabeled(bundled_photos)][::-1]
    code, out, _ = run_classify(
        capsys,
        *paths,
        "--server",
        stand_in.grpc_target,
        "--svm",
        str(trained_svm),
        "--batch-size",
        "3",
    )
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["path"] for r in records] == paths
    assert {r["label"] for r in records} <= {"classic", "modern"}
    # The scores are the SVM's decision function on the same images' features fetched in
    # another batch composition (batching must not change an image's features).
    classifier = SvmClassifier.load(trained_svm)
    with Featurizer.connect(ChannelConfig(target=stand_in.grpc_target)) as featurizer:
        results = list(featurizer.featurize(path_inputs(paths[:2])))
    features = np.stack([r.features for r in results if r.features is not None])
    np.testing.assert_allclose(
        [r["score"] for r in records[:2]],
        classifier.decision_function(features),
        rtol=1e-4,
        atol=1e-4,
    )


def test_bad_inputs_get_their_own_error_and_exit_code_1(
    stand_in: ServerHandle,
    trained_svm: Path,
    bundled_photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    good = [str(p) for p in unlabeled(bundled_photos)]
    paths = [*good[:3], str(corrupt), str(tmp_path / "missing.jpg"), *good[3:]]
    code, out, err = run_classify(
        capsys,
        *paths,
        "--server",
        stand_in.grpc_target,
        "--svm",
        str(trained_svm),
        "--format",
        "csv",
    )
    assert code == 1, err
    assert out.splitlines()[0] == "path,status,label,score,model_version,error,flag,preprocessed"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["path"] for row in rows] == paths
    failed = {row["path"]: row["status"] for row in rows if row["error"]}
    missing = str(tmp_path / "missing.jpg")
    assert failed == {str(corrupt): "INVALID_ARGUMENT", missing: "UNREADABLE"}
    assert {row["preprocessed"] for row in rows} == {"server", ""}  # "" on the two errors
    assert "9 records written, 2 failed (INVALID_ARGUMENT 1, UNREADABLE 1)" in err


def test_stdin_paths_table_and_html_report(
    stand_in: ServerHandle,
    trained_svm: Path,
    bundled_photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = [str(p) for p in unlabeled(bundled_photos)]
    report = tmp_path / "report.html"
    code, out, _ = run_classify(
        capsys,
        "-",
        "--server",
        stand_in.grpc_target,
        "--svm",
        str(trained_svm),
        "--format",
        "table",
        "--report",
        str(report),
        "--training-report",
        str(trained_svm.with_suffix(".training.json")),
        "--report-notice",
        "random <weights>",
        stdin="\n".join(paths) + "\n",
    )
    assert code == 0
    table = out.splitlines()
    assert table[0].split() == ["path", "label", "score"]  # the records' name
    assert [line.split()[0] for line in table[1:]] == paths
    page = report.read_text()
    assert page.count("data:image/jpeg;base64,") == len(paths)
    assert "Leave-one-out accuracy" in page and "Confusion matrix" in page
    assert "<p class='notice'>random &lt;weights&gt;</p>" in page
    # The random-weights banner comes from the SVM's metadata, with no flag.
    assert "<p class='notice'>The featurizer weights are not the official checkpoint" in page


def test_unreachable_server_exits_2(
    trained_svm: Path, bundled_photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong ``--svm-sha256`` (exit 2 too) is test_security.py's."""
    photo = str(unlabeled(bundled_photos)[0])
    dead = f"127.0.0.1:{free_port()}"
    code, _, err = run_classify(
        capsys, photo, "--server", dead, "--svm", str(trained_svm), "--max-attempts", "1"
    )
    assert code == 2 and "UNAVAILABLE" in err


def test_svm_for_another_feature_size_is_refused(
    stand_in: ServerHandle, bundled_photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.client.svm.test_classifier import fitted_onnx

    svm_path = tmp_path / "svm1000.onnx"
    svm_path.write_bytes(fitted_onnx(feature_dim=1000, classes=2)[1])
    code, _, err = run_classify(
        capsys,
        str(unlabeled(bundled_photos)[0]),
        "--server",
        stand_in.grpc_target,
        "--svm",
        str(svm_path),
    )
    assert code == 2
    assert "1001 features" in err and "expects 1000" in err


def test_official_stub_client_talks_to_the_stand_in(
    stand_in: ServerHandle, bundled_photos: Path
) -> None:
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    photo = unlabeled(bundled_photos)[0]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "inception_v1"
    request.inputs["images"].dtype = 7
    request.inputs["images"].tensor_shape.dim.add(size=1)
    request.inputs["images"].string_val.append(photo.read_bytes())
    with grpc.insecure_channel(stand_in.grpc_target) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, timeout=60
        )
    # float_val: TF Serving's default output form, the idiom of its examples
    official = np.array(response.outputs["logits"].float_val, np.float32)
    with Featurizer.connect(ChannelConfig(target=stand_in.grpc_target)) as featurizer:
        ours = next(featurizer.featurize(path_inputs([str(photo)])))
    assert ours.features is not None
    np.testing.assert_allclose(ours.features, official, rtol=1e-5, atol=1e-5)


def test_thin_client_never_imports_tensorflow(
    stand_in: ServerHandle, trained_svm: Path, bundled_photos: Path
) -> None:
    script = """
import sys
from pathlib import Path

def loaded(roots):
    return sorted(m for m in sys.modules if m.split(".")[0] in roots)

from inception_svm_client.config import ChannelConfig
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.inputs import path_inputs
from inception_svm_client.svm._classifier import SvmClassifier

folder, target, svm_path = sys.argv[1:]
classifier = SvmClassifier.load(Path(svm_path))
with Featurizer.connect(ChannelConfig(target=target)) as featurizer:
    features = [r.features for r in featurizer.featurize(path_inputs([folder]))]
assert len(classifier.predict(features[0])) == 1
tf_roots = {"tensorflow", "tensorflow_serving"}
assert not loaded(tf_roots), loaded(tf_roots)

# The CLI loads every installed command plugin (export/serve too in a full install).
from inception_svm_client.cli import main
assert main(["classify", folder, "--server", target, "--svm", svm_path]) == 0
assert not loaded({"tensorflow"}), loaded({"tensorflow"})
"""
    folder = str(bundled_photos / "cars" / "unlabeled")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script, folder, stand_in.grpc_target, str(trained_svm)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 7


def test_python_api_checks_the_svm_against_the_served_model(
    stand_in: ServerHandle, trained_svm: Path, bundled_photos: Path, tmp_path: Path
) -> None:

    from inception_svm_client.exceptions import SignatureMismatchError

    classifier = SvmClassifier.load(str(trained_svm))  # str or Path
    photos = [str(p) for p in unlabeled(bundled_photos)[:2]]
    with classifier.connect(ChannelConfig(target=stand_in.grpc_target)) as featurizer:
        assert featurizer.config.target.version == 1  # pinned to the SVM's version
        results = list(featurizer.featurize(path_inputs(photos)))
    assert [r.model_version for r in results] == [1, 1]
    foreign = retagged_svm(
        trained_svm, tmp_path / "foreign.onnx", featurizer_model_name="resnet_50"
    )
    with (
        SvmClassifier.load(foreign).connect(
            ChannelConfig(target=stand_in.grpc_target)
        ) as featurizer,
        pytest.raises(SignatureMismatchError, match="resnet_50"),
    ):
        list(featurizer.featurize(path_inputs(photos)))


def test_non_utf8_file_names_round_trip_in_every_format(
    stand_in: ServerHandle,
    trained_svm: Path,
    bundled_photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from inception_svm_client.records import decode_path

    raw = os.fsencode(tmp_path) + b"/caf\xe9.jpg"
    with open(raw, "wb") as handle:
        handle.write(unlabeled(bundled_photos)[0].read_bytes())
    for output_format in ("jsonl", "csv", "table"):
        code, out, err = run_classify(
            capsys, str(tmp_path), "--server", stand_in.grpc_target, "--svm",
            str(trained_svm), "--format", output_format,
        )  # fmt: skip
        assert code == 0, (output_format, err)
        line = out.splitlines()[-1]
        path = json.loads(line)["path"] if output_format == "jsonl" else line.split(",")[0]
        if output_format == "table":
            path = line.split()[0]
        assert decode_path(path) == raw, (output_format, out)


def test_zero_inputs_wrong_port_and_unknown_model_get_clear_errors(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svm_args = ("--svm", str(trained_svm))
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("not an image")
    code, out, err = run_classify(capsys, str(empty), "--server", stand_in.grpc_target, *svm_args)
    assert code == 1 and out == "" and "warning: no inputs found" in err

    rest_port = stand_in.rest_url.rsplit(":", 1)[1]
    code, _, err = run_classify(capsys, str(empty), "--server", f"127.0.0.1:{rest_port}", *svm_args)
    assert code == 2 and "REST port" in err, err

    code, _, err = run_classify(
        capsys, str(empty), "--server", stand_in.grpc_target, *svm_args, "--model-name", "nope"
    )
    assert code == 2 and "NOT_FOUND" in err and "the server serves: 'inception_v1'" in err, err
