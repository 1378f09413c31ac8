"""Predict / metadata / status on numpy and plain Python: what both gRPC and REST call.

Inputs are validated against the signature here, before anything reaches TensorFlow or a
batch queue, so a bad request fails alone with an INVALID_ARGUMENT that names the input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tensorflow_serving.apis import get_model_metadata_pb2

from inception_svm_client.contract import SERVING_SIGNATURE
from inception_svm_serving.admission import Admission
from inception_svm_serving.errors import FailedPrecondition, InvalidArgument
from inception_svm_serving.model_manager import ModelManager, VersionStatus
from inception_svm_serving.runtime import LoadedSignature, LoadedTensor


@dataclass(frozen=True)
class ModelRef:
    """A request's model_spec: name plus at most one of version / version_label."""

    name: str
    version: int | None = None
    label: str | None = None
    signature_name: str = ""

    def __post_init__(self) -> None:
        if self.version is not None and self.label is not None:
            raise InvalidArgument("model_spec may set version or version_label, not both")


@dataclass(frozen=True)
class PredictResult:
    model_name: str
    version: int
    signature_name: str
    outputs: dict[str, np.ndarray]


@dataclass(frozen=True)
class Metadata:
    model_name: str
    version: int
    signature_def: get_model_metadata_pb2.SignatureDefMap  # shared: never modify


def _signature(signatures: Mapping[str, LoadedSignature], name: str) -> LoadedSignature:
    """An unknown key is FAILED_PRECONDITION with TF Serving's wording (predict_util.cc):
    the model exists, it just was not exported with that signature."""
    key = name or SERVING_SIGNATURE
    if key not in signatures:
        raise FailedPrecondition(f'Serving signature key "{key}" not found.')
    return signatures[key]


def _check_input(spec: LoadedTensor, array: np.ndarray) -> None:
    if array.dtype != spec.dtype and not (spec.dtype == object and array.dtype.kind in "SO"):
        raise InvalidArgument(
            f"input '{spec.alias}': expected dtype {spec.dtype_name}, got {array.dtype}"
        )
    if spec.shape is None:
        return
    if array.ndim != len(spec.shape):
        raise InvalidArgument(
            f"input '{spec.alias}': expected rank {len(spec.shape)} "
            f"(shape {_shape_text(spec.shape)}), got shape {list(array.shape)}"
        )
    for expected, actual in zip(spec.shape, array.shape, strict=True):
        if expected is not None and expected != actual:
            raise InvalidArgument(
                f"input '{spec.alias}': expected shape {_shape_text(spec.shape)}, "
                f"got {list(array.shape)}"
            )
    if array.ndim and spec.shape[0] is None and array.shape[0] == 0:
        raise InvalidArgument(f"input '{spec.alias}': empty batch (dimension 0 has size 0)")


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "[" + ",".join("-1" if d is None else str(d) for d in shape) + "]"


def validate_inputs(signature: LoadedSignature, inputs: Mapping[str, np.ndarray]) -> None:
    sent, expected = set(inputs), set(signature.inputs)
    if sent != expected:
        extra = ", ".join(sorted(sent - expected)) or "none"
        missing = ", ".join(sorted(expected - sent)) or "none"
        raise InvalidArgument(
            f"inputs do not match signature '{signature.name}': "
            f"unknown inputs: {extra}; missing inputs: {missing}"
        )
    for alias, array in inputs.items():
        _check_input(signature.inputs[alias], array)


class DataPlane:
    def __init__(self, manager: ModelManager, admission: Admission) -> None:
        self._manager = manager
        self._admission = admission

    def predict(
        self,
        ref: ModelRef,
        inputs_for: Callable[[LoadedSignature], Mapping[str, np.ndarray]],
        output_filter: Sequence[str] = (),
    ) -> PredictResult:
        """``inputs_for`` builds the request's inputs from the signature they will run on, so a
        version swap can never parse a request against one version and run it on another."""
        with self._manager.acquire(ref.name, ref.version, ref.label) as servable:
            signature = _signature(servable.model.signatures, ref.signature_name)
            inputs = inputs_for(signature)
            validate_inputs(signature, inputs)
            unknown = [o for o in output_filter if o not in signature.outputs]
            if unknown:
                raise InvalidArgument(
                    f"output tensor alias not found in signature: {', '.join(unknown)}"
                )
            with self._admission.admit(inputs):
                try:
                    outputs = servable.execute(signature.name, inputs)
                except InvalidArgument as error:
                    names = "', '".join(signature.inputs)
                    raise InvalidArgument(f"input '{names}': {error.message}") from error
            version = servable.version
        if output_filter:
            wanted = set(output_filter)
            outputs = {k: v for k, v in outputs.items() if k in wanted}
        return PredictResult(ref.name, version, signature.name, outputs)

    def metadata(self, ref: ModelRef) -> Metadata:
        with self._manager.acquire(ref.name, ref.version, ref.label) as servable:
            return Metadata(ref.name, servable.version, servable.model.signature_def_map)

    def status(self, ref: ModelRef) -> list[VersionStatus]:
        if ref.label is not None:
            raise InvalidArgument("GetModelStatus takes a version, not a version_label")
        return self._manager.status(ref.name, ref.version)
