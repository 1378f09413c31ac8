"""What a trained SVM says about itself: the featurizer it needs, its classes and training.

Kept apart from ``svm`` (training and the ONNX classifier) because the featurizer's model
checks read it too: with it here, ``featurizer -> model_checks -> svm_metadata`` and
``svm -> featurizer`` (``SvmClassifier.connect``) form no cycle.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from inception_svm_client.config import DEFAULT_FEATURES
from inception_svm_client.contract import FEATURE_SIGNATURES
from inception_svm_client.exceptions import ClientError, ErrorCode, SignatureMismatchError

# The ONNX file's contract (docs/contract.md), recorded as metadata "contract_version":
# 1: scores output named "probabilities" (files written before the key existed);
# 2: scores output named "scores".
SVM_CONTRACT_VERSION = 2


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
    contract_version: int = SVM_CONTRACT_VERSION

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
            "contract_version": str(self.contract_version),
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
                contract_version=int(props.get("contract_version", "1")),
            )
        except (KeyError, ValueError) as error:
            raise ClientError(
                ErrorCode.INVALID_SVM, f"missing or bad ONNX metadata: {error}"
            ) from error
