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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inception_svm_client.exceptions import (
    ClientError,
    ErrorCode,
    FileRefused,
    SignatureMismatchError,
)
from inception_svm_client.files import MAX_SVM_BYTES, read_bounded
from inception_svm_client.svm._metadata import SvmMetadata, TrainingReport

if TYPE_CHECKING:
    from inception_svm_client.config import ChannelConfig, FeaturizerConfig
    from inception_svm_client.grpc._featurizer import Featurizer
    from inception_svm_client.grpc.aio._featurizer import AsyncFeaturizer

ONNX_INPUT_NAME = "features"
# The ONNX outputs (docs/contract.md): the predicted label [N] and the decision scores. skl2onnx
# calls the scores "probabilities", which they are not (signed distances in logit units); SVMs
# written since contract version 2 name them "scores". Files of version 1 still load.
ONNX_LABEL_OUTPUT = "label"
ONNX_SCORES_OUTPUT = "scores"
LEGACY_SCORES_OUTPUT = "probabilities"
DEFAULT_C = 1.0
_MAX_ITER = 20_000


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
    # for it): outputs are "label" [N] and the decision scores, [N, 1] for two classes (the
    # positive class's score, last column) and [N, K] otherwise, renamed "scores" below.
    onnx_model = to_onnx(
        model,
        initial_types=[(ONNX_INPUT_NAME, FloatTensorType([None, metadata.feature_dim]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    _rename_tensor(onnx_model.graph, LEGACY_SCORES_OUTPUT, ONNX_SCORES_OUTPUT)
    for key, value in metadata.to_props().items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx_model.doc_string = f"LinearSVC on Inception v1 {metadata.features} (inception-svm)"
    data: bytes = onnx_model.SerializeToString()
    return data


def _rename_tensor(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for output in graph.output:
        if output.name == old:
            output.name = new


def sha256_file(path: Path) -> str:
    return hashlib.sha256(read_bounded(path, MAX_SVM_BYTES, "")).hexdigest()


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
        outputs = {output.name for output in self._session.get_outputs()}
        scores = next(
            (name for name in (ONNX_SCORES_OUTPUT, LEGACY_SCORES_OUTPUT) if name in outputs), None
        )
        if ONNX_LABEL_OUTPUT not in outputs or scores is None:
            raise ClientError(
                ErrorCode.INVALID_SVM,
                f"{source}: ONNX outputs {sorted(outputs)} are not "
                f"[{ONNX_LABEL_OUTPUT!r}, {ONNX_SCORES_OUTPUT!r}]",
            )
        self._output_names = [ONNX_LABEL_OUTPUT, scores]

    @classmethod
    def load(cls, path: str | Path, expected_sha256: str | None = None) -> SvmClassifier:
        path = Path(path)
        try:
            data = read_bounded(path, MAX_SVM_BYTES, "")
        except FileRefused as error:
            raise ClientError(ErrorCode.INVALID_SVM, error.details) from None
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
        from inception_svm_client.grpc._featurizer import Featurizer

        return Featurizer.connect(channel_config, config, svm=self.metadata, on_outage=on_outage)

    def connect_async(
        self,
        channel_config: ChannelConfig,
        config: FeaturizerConfig | None = None,
        on_outage: Callable[[ClientError], None] | None = None,
    ) -> AsyncFeaturizer:
        """``connect`` for asyncio services (call it inside the running event loop)."""
        from inception_svm_client.grpc.aio._featurizer import AsyncFeaturizer

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
        labels, scores = self._session.run(self._output_names, {self._input_name: batch})
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
