"""The linear SVM on Inception logits: training and ONNX export (``train`` extra), and
application with onnxruntime only (thin install).

Why plain ``LinearSVC`` on raw logits, as in the original demo: all 1001 features come
from the same layer and already share a scale, while standardising would estimate 1001
means and variances from ~20 photos (noise) and add a second op to the exported graph.
Keeping one linear op also keeps the decision score in logit units, which is what the
report shows as the distance from the boundary. ``dual`` is chosen by scikit-learn
("auto": dual when features outnumber samples, as here).

scikit-learn and skl2onnx are imported inside the training functions, so classifying
works without them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inception_svm_client.contract import FEATURE_SIGNATURES
from inception_svm_client.errors import ClientError, ErrorCode, SignatureMismatchError
from inception_svm_client.featurizer_config import DEFAULT_FEATURES

if TYPE_CHECKING:
    from inception_svm_client.async_featurizer import AsyncFeaturizer
    from inception_svm_client.featurizer import Featurizer
    from inception_svm_client.featurizer_config import ChannelConfig, FeaturizerConfig

ONNX_INPUT_NAME = "features"
DEFAULT_C = 1.0
_MAX_ITER = 20_000


@dataclass(frozen=True)
class FeaturizerInfo:
    """Which served model produced the features; a classifier is only valid with it."""

    model_name: str
    model_version: int | None
    signature_name: str

    def check_served(self, model_name: str, signature_name: str, model_version: int | None) -> str:
        """Refuse features from another model or signature: the SVM's weights mean nothing
        on them even when the dimension happens to match. Another version of the same model
        (a re-export of the same checkpoint) is allowed; the returned warning says so."""
        if (model_name, signature_name) != (self.model_name, self.signature_name):
            raise SignatureMismatchError(
                f"the SVM was trained on features of model {self.model_name!r} signature "
                f"{self.signature_name!r}, but the server answers with model {model_name!r} "
                f"signature {signature_name!r}"
            )
        return self.version_flag(model_version) or ""

    def version_flag(self, model_version: int | None) -> str | None:
        """Why features from ``model_version`` are suspect (None when they are not): another
        version may be a retrained model whose logits the SVM's weights do not fit."""
        if None in (self.model_version, model_version) or model_version == self.model_version:
            return None
        return (
            f"features from {self.model_name!r} version {model_version}, "
            f"the SVM was trained on version {self.model_version}"
        )


@dataclass(frozen=True)
class TrainingReport:
    """Leave-one-out evaluation; ``loo_accuracy`` is None when a class has one image."""

    class_names: list[str]
    samples_per_class: list[int]
    loo_accuracy: float | None
    # confusion_matrix[true][predicted], both in class_names order
    confusion_matrix: list[list[int]] | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainingReport:
        data = json.loads(text)
        return cls(
            class_names=list(data["class_names"]),
            samples_per_class=list(data["samples_per_class"]),
            loo_accuracy=data["loo_accuracy"],
            confusion_matrix=data["confusion_matrix"],
        )


@dataclass(frozen=True)
class SvmMetadata:
    """What the ONNX file says about itself (stored as ONNX metadata_props)."""

    class_names: list[str]
    feature_dim: int
    featurizer: FeaturizerInfo
    training_set_size: int
    trained_at: str
    sklearn_version: str
    loo_accuracy: float | None
    # The signature output the SVM was trained on (a FEATURE_SIGNATURES key); files from
    # before it existed were trained on logits.
    features: str = DEFAULT_FEATURES
    # Which weights the featurizer held, as its export recorded them (the provenance line
    # of the ``classify_imagenet`` answers); None when the model does not say.
    weights: str | None = None

    def to_props(self) -> dict[str, str]:
        props = {
            "class_names": json.dumps(self.class_names),
            "feature_dim": str(self.feature_dim),
            "featurizer_model_name": self.featurizer.model_name,
            "featurizer_model_version": json.dumps(self.featurizer.model_version),
            "featurizer_signature_name": self.featurizer.signature_name,
            "training_set_size": str(self.training_set_size),
            "trained_at": self.trained_at,
            "sklearn_version": self.sklearn_version,
            "loo_accuracy": json.dumps(self.loo_accuracy),
            "features": self.features,
        }
        if self.weights is not None:
            props["featurizer_weights"] = self.weights
        return props

    @classmethod
    def from_props(cls, props: dict[str, str]) -> SvmMetadata:
        features = props.get("features", DEFAULT_FEATURES)
        if features not in FEATURE_SIGNATURES:
            raise ClientError(
                ErrorCode.INVALID_SVM,
                f"ONNX metadata names unknown features {features!r} "
                f"(known: {', '.join(FEATURE_SIGNATURES)})",
            )
        try:
            return cls(
                class_names=list(json.loads(props["class_names"])),
                feature_dim=int(props["feature_dim"]),
                featurizer=FeaturizerInfo(
                    model_name=props["featurizer_model_name"],
                    model_version=json.loads(props["featurizer_model_version"]),
                    signature_name=props["featurizer_signature_name"],
                ),
                training_set_size=int(props["training_set_size"]),
                trained_at=props["trained_at"],
                sklearn_version=props["sklearn_version"],
                loo_accuracy=json.loads(props["loo_accuracy"]),
                features=features,
                weights=props.get("featurizer_weights"),
            )
        except (KeyError, ValueError) as error:
            raise ClientError(
                ErrorCode.INVALID_SVM, f"missing or bad ONNX metadata: {error}"
            ) from error


def make_linear_svc(c: float = DEFAULT_C) -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(C=c, dual="auto", max_iter=_MAX_ITER, random_state=0)


def leave_one_out(
    features: np.ndarray, labels: Sequence[str], class_names: list[str]
) -> tuple[float, list[list[int]]]:
    """Accuracy and confusion matrix over leave-one-out folds (every class needs 2 images)."""
    from sklearn.metrics import accuracy_score, confusion_matrix
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    predicted = cross_val_predict(make_linear_svc(), features, labels, cv=LeaveOneOut())
    matrix = confusion_matrix(labels, predicted, labels=class_names)
    return float(accuracy_score(labels, predicted)), matrix.tolist()


def train(
    features: np.ndarray, labels: Sequence[str], c: float = DEFAULT_C
) -> tuple[Any, TrainingReport]:
    """Fit on all images and evaluate with leave-one-out; labels are class names."""
    class_names = sorted(set(labels))
    if len(class_names) < 2:
        raise ValueError(f"need at least 2 classes, got {class_names}")
    if features.shape[0] != len(labels):
        raise ValueError(f"{features.shape[0]} feature rows for {len(labels)} labels")
    counts = [list(labels).count(name) for name in class_names]
    # Leaving out a class's only image would leave a 1-class training set.
    accuracy, matrix = (
        leave_one_out(features, labels, class_names) if min(counts) >= 2 else (None, None)
    )
    model = make_linear_svc(c).fit(features, list(labels))
    report = TrainingReport(
        class_names=class_names,
        samples_per_class=counts,
        loo_accuracy=accuracy,
        confusion_matrix=matrix,
    )
    return model, report


def export_onnx(model: Any, metadata: SvmMetadata) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    # LinearSVC has no probabilities, hence no ZipMap (skl2onnx rejects the zipmap option
    # for it): outputs are "label" [N] and "probabilities" = decision scores, [N, 1] for two
    # classes (the positive class's score, last column) and [N, K] otherwise.
    onnx_model = to_onnx(
        model,
        initial_types=[(ONNX_INPUT_NAME, FloatTensorType([None, metadata.feature_dim]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    for key, value in metadata.to_props().items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx_model.doc_string = f"LinearSVC on Inception v1 {metadata.features} (inception-svm)"
    data: bytes = onnx_model.SerializeToString()
    return data


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Prediction:
    label: str
    # Binary: signed decision score (positive → class_names[1]); multiclass: winner's score.
    score: float


class SvmClassifier:
    """An exported SVM applied with onnxruntime; no scikit-learn needed."""

    def __init__(self, onnx_bytes: bytes, source: str = "<bytes>") -> None:
        import onnxruntime

        try:
            self._session = onnxruntime.InferenceSession(
                onnx_bytes, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped exceptions
            raise ClientError(
                ErrorCode.INVALID_SVM, f"{source} is not a loadable ONNX model: {error}"
            ) from None
        props = dict(self._session.get_modelmeta().custom_metadata_map)
        self.metadata = SvmMetadata.from_props(props)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or inputs[0].shape[-1] != self.metadata.feature_dim:
            raise ClientError(
                ErrorCode.INVALID_SVM,
                f"{source}: ONNX input {[(i.name, i.shape) for i in inputs]} does not take "
                f"{self.metadata.feature_dim} features",
            )
        self._input_name = inputs[0].name

    @classmethod
    def load(cls, path: str | Path, expected_sha256: str | None = None) -> SvmClassifier:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ClientError(
                ErrorCode.INVALID_SVM, f"cannot read {path}: {error.strerror}"
            ) from error
        if expected_sha256 is not None:
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected_sha256.lower():
                raise ClientError(
                    ErrorCode.INVALID_SVM, f"{path} has sha256 {actual}, expected {expected_sha256}"
                )
        return cls(data, str(path))

    def connect(
        self,
        channel_config: ChannelConfig,
        config: FeaturizerConfig | None = None,
        on_outage: Callable[[ClientError], None] | None = None,
    ) -> Featurizer:
        """A Featurizer bound to this SVM: it refuses another model or signature, pins the
        model version the SVM was trained on and checks every response (the same checks
        the ``classify`` command relies on)."""
        from inception_svm_client.featurizer import Featurizer

        return Featurizer.connect(channel_config, config, svm=self.metadata, on_outage=on_outage)

    def connect_async(
        self,
        channel_config: ChannelConfig,
        config: FeaturizerConfig | None = None,
        on_outage: Callable[[ClientError], None] | None = None,
    ) -> AsyncFeaturizer:
        """``connect`` for asyncio services (call it inside the running event loop)."""
        from inception_svm_client.async_featurizer import AsyncFeaturizer

        return AsyncFeaturizer.connect(
            channel_config, config, svm=self.metadata, on_outage=on_outage
        )

    @property
    def class_names(self) -> list[str]:
        return self.metadata.class_names

    def _run(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One vector of ``feature_dim`` or rows of it; any other shape is refused rather
        than reshaped, which would cut a wrong-length vector into rows of mixed inputs."""
        batch = np.ascontiguousarray(features, dtype=np.float32)
        dim = self.metadata.feature_dim
        if batch.ndim == 1 and batch.shape[0] == dim:
            batch = batch.reshape(1, dim)
        if batch.ndim != 2 or batch.shape[1] != dim:
            raise SignatureMismatchError(
                f"features of shape {tuple(features.shape)} cannot feed this SVM: it takes "
                f"{dim} {self.metadata.features} features, as one vector "
                f"[{dim}] or rows [N, {dim}]"
            )
        labels, scores = self._session.run(None, {self._input_name: batch})
        return np.asarray(labels), np.asarray(scores)

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Same layout as scikit-learn's: [N] for two classes, [N, K] otherwise."""
        _, scores = self._run(features)
        return scores[:, 0] if len(self.class_names) == 2 else scores

    def predict(self, features: np.ndarray) -> list[Prediction]:
        labels, scores = self._run(features)
        binary = len(self.class_names) == 2
        return [
            Prediction(str(label), float(row[0] if binary else row.max()))
            for label, row in zip(labels, scores, strict=True)
        ]
