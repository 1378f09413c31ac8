"""The ONNX SVM equals scikit-learn's, and training refuses bad data before fitting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inception_svm_client.config import ChannelConfig, FeaturizerConfig, RetryPolicy
from inception_svm_client.exceptions import ClientError, SignatureMismatchError
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.svm import _classifier as svm
from inception_svm_client.svm import _metadata as svm_metadata
from inception_svm_client.svm._training import (
    TrainingDataError,
    featurize_training_set,
    load_training_set,
)
from tests.harness import free_port


def fitted_onnx(feature_dim: int, classes: int, seed: int = 0) -> tuple[Any, bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    names = [f"class{k}" for k in range(classes)]
    labels = [names[i % classes] for i in range(6 * classes)]
    centers = rng.normal(size=(classes, feature_dim)) * 3
    features = np.stack([centers[names.index(n)] + rng.normal(size=feature_dim) for n in labels])
    features = features.astype(np.float32)
    model, report = svm.train(features, labels)
    metadata = svm_metadata.SvmMetadata(
        class_names=report.class_names,
        feature_dim=feature_dim,
        featurizer=svm_metadata.FeaturizerInfo("inception_v1", 1, "serving_default"),
        training_set_size=len(labels),
        trained_at="2024-01-01T00:00:00+00:00",
        sklearn_version="test",
        loo_accuracy=report.loo_accuracy,
    )
    return model, svm.export_onnx(model, metadata), features


@pytest.mark.parametrize("classes", [2, 3])
def test_onnx_decision_scores_equal_sklearn(classes: int) -> None:
    model, onnx_bytes, features = fitted_onnx(feature_dim=1001, classes=classes)
    classifier = svm.SvmClassifier(onnx_bytes)
    expected = model.decision_function(features)
    np.testing.assert_allclose(
        classifier.decision_function(features), expected, rtol=1e-4, atol=1e-4
    )
    predictions = classifier.predict(features)
    assert [p.label for p in predictions] == list(model.predict(features))
    assert classifier.metadata.class_names == [f"class{k}" for k in range(classes)]


def test_one_vector_is_one_row() -> None:
    model, onnx_bytes, features = fitted_onnx(feature_dim=7, classes=2)
    classifier = svm.SvmClassifier(onnx_bytes)
    assert [p.label for p in classifier.predict(features[0])] == list(model.predict(features[:1]))


@pytest.mark.parametrize("shape", [(14,), (10,), (3, 14), (2, 7, 1), ()])
def test_features_of_the_wrong_length_are_refused_not_reshaped(shape: tuple[int, ...]) -> None:
    _, onnx_bytes, _ = fitted_onnx(feature_dim=7, classes=2)
    classifier = svm.SvmClassifier(onnx_bytes)
    features = np.zeros(shape, dtype=np.float32)
    with pytest.raises(SignatureMismatchError, match=r"takes 7 logits features"):
        classifier.predict(features)
    with pytest.raises(SignatureMismatchError, match=r"takes 7 logits features"):
        classifier.decision_function(features)


def test_leave_one_out_report_is_consistent() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(8, 5)).astype(np.float32)
    labels = ["a", "b"] * 4
    _, report = svm.train(features, labels)
    assert report.samples_per_class == [4, 4]
    assert report.confusion_matrix is not None and report.loo_accuracy is not None
    correct = report.confusion_matrix[0][0] + report.confusion_matrix[1][1]
    assert report.loo_accuracy == pytest.approx(correct / 8)
    assert svm_metadata.TrainingReport.from_json(report.to_json()) == report


def test_not_an_onnx_file_is_a_client_error(tmp_path: Path) -> None:
    bogus = tmp_path / "svm.onnx"
    bogus.write_bytes(b"not onnx")
    with pytest.raises(ClientError) as raised:
        svm.SvmClassifier.load(bogus)
    assert raised.value.code == "INVALID_SVM"


def write_images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"{i}.jpg").write_bytes(b"\xff\xd8\xff fake")


def test_fewer_than_two_classes(tmp_path: Path) -> None:
    write_images(tmp_path / "only", 3)
    with pytest.raises(TrainingDataError, match="at least 2 class"):
        load_training_set(tmp_path)


def test_empty_class(tmp_path: Path) -> None:
    write_images(tmp_path / "a", 3)
    (tmp_path / "b").mkdir()
    with pytest.raises(TrainingDataError, match=r"without images.*'b'"):
        load_training_set(tmp_path)


def test_a_dangling_link_or_device_among_the_images_is_refused_not_skipped(
    tmp_path: Path,
) -> None:
    """Training on fewer images than the folder shows, silently, would change the model."""
    write_images(tmp_path / "a", 2)
    write_images(tmp_path / "b", 2)
    (tmp_path / "b" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "a" / "null.jpg").symlink_to("/dev/null")
    with pytest.raises(TrainingDataError) as raised:
        load_training_set(tmp_path)
    message = str(raised.value)
    assert "gone.jpg: a dangling symbolic link" in message
    assert "null.jpg: a character device, not a regular file" in message


def test_unreadable_image_is_reported_before_contacting_the_server(tmp_path: Path) -> None:
    write_images(tmp_path / "a", 2)
    write_images(tmp_path / "b", 2)
    (tmp_path / "b" / "1.jpg").write_bytes(b"")
    training_set = load_training_set(tmp_path)
    config = FeaturizerConfig(retry=RetryPolicy(max_attempts=1), deadline_s=1)
    # Nothing listens there: reaching the server would raise ClientError instead.
    with (
        Featurizer.connect(ChannelConfig(target=f"127.0.0.1:{free_port()}"), config) as featurizer,
        pytest.raises(TrainingDataError, match=r"1\.jpg: empty file"),
    ):
        featurize_training_set(featurizer, training_set, max_image_bytes=1024)
