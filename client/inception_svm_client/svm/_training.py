"""Training pipeline: labeled folders → features through the server → LinearSVC → ONNX.

Every input problem (fewer than 2 classes, an empty class, an unreadable image, an image
the server rejects) is found and reported before any fitting starts.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inception_svm_client.exceptions import TrainingDataError
from inception_svm_client.grpc._featurizer import FeatureResult, Featurizer
from inception_svm_client.grpc._imagenet import served_weights
from inception_svm_client.inputs import labeled_folders, read_image
from inception_svm_client.svm import _classifier as svm
from inception_svm_client.svm import _metadata as svm_metadata


@dataclass(frozen=True)
class TrainingSet:
    paths: list[Path]
    labels: list[str]


@dataclass(frozen=True)
class TrainedSvm:
    onnx_bytes: bytes
    metadata: svm_metadata.SvmMetadata
    report: svm_metadata.TrainingReport


def load_training_set(data_dir: Path) -> TrainingSet:
    try:
        folders = labeled_folders(data_dir)
    except ValueError as error:
        raise TrainingDataError(str(error)) from None
    if len(folders) < 2:
        raise TrainingDataError(
            f"{data_dir} needs at least 2 class subfolders (one per label), found "
            f"{sorted(folders) or 'none'}"
        )
    empty = [label for label, paths in folders.items() if not paths]
    if empty:
        raise TrainingDataError(f"class folder(s) without images in {data_dir}: {empty}")
    paths = [path for label_paths in folders.values() for path in label_paths]
    labels = [label for label, label_paths in folders.items() for _ in label_paths]
    return TrainingSet(paths, labels)


def featurize_training_set(
    featurizer: Featurizer,
    training_set: TrainingSet,
    max_image_bytes: int,
    progress: Callable[[Iterator[FeatureResult]], Iterable[FeatureResult]] = lambda it: it,
) -> np.ndarray:
    inputs = [read_image(str(path), max_image_bytes) for path in training_set.paths]
    unreadable = [f"{item.key}: {item.error}" for item in inputs if item.error is not None]
    if unreadable:
        raise TrainingDataError("unreadable training images:\n  " + "\n  ".join(unreadable))
    results = list(progress(featurizer.featurize(inputs)))
    rejected = [f"{r.key}: {r.error}" for r in results if r.features is None]
    if rejected:
        raise TrainingDataError("the server rejected training images:\n  " + "\n  ".join(rejected))
    return np.stack([r.features for r in results if r.features is not None])


def train_svm(
    features: np.ndarray, training_set: TrainingSet, featurizer: Featurizer, c: float
) -> TrainedSvm:
    import sklearn

    model, report = svm.train(features, training_set.labels, c)
    signature = featurizer.fetch_signature()
    metadata = svm_metadata.SvmMetadata(
        class_names=report.class_names,
        feature_dim=int(features.shape[1]),
        featurizer=svm_metadata.FeaturizerInfo(
            model_name=signature.model_name or featurizer.config.target.model_name,
            model_version=signature.model_version,
            signature_name=signature.signature_name,
        ),
        training_set_size=len(training_set.labels),
        trained_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        sklearn_version=sklearn.__version__,
        loo_accuracy=report.loo_accuracy,
        features=featurizer.config.target.output_name,
        weights=served_weights(featurizer),
    )
    return TrainedSvm(svm.export_onnx(model, metadata), metadata, report)


def describe_report(report: svm_metadata.TrainingReport) -> str:
    counts = ", ".join(
        f"{name}={count}"
        for name, count in zip(report.class_names, report.samples_per_class, strict=True)
    )
    lines = [f"training images: {counts}"]
    if report.loo_accuracy is None or report.confusion_matrix is None:
        lines.append("leave-one-out: skipped (a class has a single image)")
        return "\n".join(lines)
    lines.append(f"leave-one-out accuracy: {report.loo_accuracy:.1%}")
    width = max(len(name) for name in report.class_names) + 2
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(name.rjust(width) for name in report.class_names))
    for name, row in zip(report.class_names, report.confusion_matrix, strict=True):
        lines.append(name.ljust(width) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)
