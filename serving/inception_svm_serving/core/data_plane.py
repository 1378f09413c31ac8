"""Predict / metadata / status on numpy and plain Python: what both gRPC and REST call.

Calls flow one way, protocol -> data plane -> model manager / runtime: nothing here knows
protobuf requests, JSON or HTTP, and nothing here calls back into the protocol layer. A
protocol whose body can only be decoded against the signature (REST's JSON) opens a
``predict_call``, which pins the version, and decodes against its ``signature``.

Input names and dtypes are validated against the signature here, before anything reaches
TensorFlow or a batch queue, so a bad request fails alone with an INVALID_ARGUMENT that names
the input; shapes are left to the graph, as in TF Serving.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2

from inception_svm_client.contract import SERVING_SIGNATURE
from inception_svm_serving._exceptions import FailedPrecondition, InvalidArgument
from inception_svm_serving.core.admission import Admission
from inception_svm_serving.core.model_manager import ModelManager, Servable, VersionStatus
from inception_svm_serving.core.runtime import LoadedSignature, LoadedTensor


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
    signature_defs: Mapping[str, meta_graph_pb2.SignatureDef]  # the SavedModel's; never modify


def _signature(signatures: Mapping[str, LoadedSignature], name: str) -> LoadedSignature:
    """An unknown key is FAILED_PRECONDITION with TF Serving's wording (predict_util.cc):
    the model exists, it just was not exported with that signature."""
    key = name or SERVING_SIGNATURE
    if key not in signatures:
        raise FailedPrecondition(f'Serving signature key "{key}" not found.')
    return signatures[key]


def _check_input(spec: LoadedTensor, array: np.ndarray) -> None:
    """The dtype only: like TF Serving (predict_util.cc, TF's saved_model::GetInputValues),
    shapes are left to the graph, whose InvalidArgumentError is the request's status (a
    signature declaring [-1, 1] does not stop a [3] input that the graph accepts)."""
    if array.dtype != spec.dtype and not (spec.dtype == object and array.dtype.kind in "SO"):
        raise InvalidArgument(
            f"input '{spec.alias}': expected dtype {spec.dtype_name}, got {array.dtype}"
        )


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


class PredictCall:
    """One Predict pinned to one servable version, from the moment the protocol layer needs
    the signature (REST decodes its JSON body against it) until the outputs are computed.

    Holding the version for the whole call is what makes a version swap safe: a body is
    never decoded against one version's signature and run on another. Made only by
    ``DataPlane.predict_call``; unusable once its ``with`` block has ended.
    """

    def __init__(
        self, model_name: str, servable: Servable, signature: LoadedSignature, admission: Admission
    ) -> None:
        self.signature = signature
        self._model_name = model_name
        self._servable = servable
        self._admission = admission
        self._open = True

    def predict(
        self, inputs: Mapping[str, np.ndarray], output_filter: Sequence[str] = ()
    ) -> PredictResult:
        if not self._open:
            raise RuntimeError("PredictCall.predict after its predict_call block ended")
        signature = self.signature
        validate_inputs(signature, inputs)
        unknown = [o for o in output_filter if o not in signature.outputs]
        if unknown:
            raise InvalidArgument(
                f"output tensor alias not found in signature: {', '.join(unknown)}"
            )
        with self._admission.admit(inputs):
            try:
                outputs = self._servable.execute(signature.name, inputs)
            except InvalidArgument as error:
                names = "', '".join(signature.inputs)
                raise InvalidArgument(f"input '{names}': {error.message}") from error
        if output_filter:
            wanted = set(output_filter)
            outputs = {k: v for k, v in outputs.items() if k in wanted}
        return PredictResult(self._model_name, self._servable.version, signature.name, outputs)

    def close(self) -> None:
        self._open = False


class DataPlane:
    def __init__(self, manager: ModelManager, admission: Admission) -> None:
        self._manager = manager
        self._admission = admission

    @contextlib.contextmanager
    def predict_call(self, ref: ModelRef) -> Iterator[PredictCall]:
        """Resolve ``ref`` once and hold that version until the block ends: decode the request
        against ``call.signature``, then ``call.predict(inputs)``."""
        with self._manager.acquire(ref.name, ref.version, ref.label) as servable:
            signature = _signature(servable.model.signatures, ref.signature_name)
            call = PredictCall(ref.name, servable, signature, self._admission)
            try:
                yield call
            finally:
                call.close()

    def predict(
        self, ref: ModelRef, inputs: Mapping[str, np.ndarray], output_filter: Sequence[str] = ()
    ) -> PredictResult:
        """For requests whose inputs decode without the signature (gRPC's TensorProtos)."""
        with self.predict_call(ref) as call:
            return call.predict(inputs, output_filter)

    def metadata(self, ref: ModelRef) -> Metadata:
        with self._manager.acquire(ref.name, ref.version, ref.label) as servable:
            return Metadata(ref.name, servable.version, servable.model.signature_defs)

    def status(self, ref: ModelRef) -> list[VersionStatus]:
        if ref.label is not None:
            raise InvalidArgument("GetModelStatus takes a version, not a version_label")
        return self._manager.status(ref.name, ref.version)
