"""Raw calls to the model server through TF Serving's *official* stubs.

The serving and reliability tests deliberately bypass the thin client here: they must be
able to send requests the client would never build (wrong dtype, absurd shapes, unknown
models) and see the exact status code the server answers, as any third-party TF Serving
client would.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from inception_svm_client.contract import IMAGES_INPUT, LOGITS_OUTPUT, SERVING_SIGNATURE
from tests.harness import MODEL_NAME


def string_tensor(
    values: Sequence[bytes], shape: Sequence[int] | None = None
) -> tensor_pb2.TensorProto:
    dims = [len(values)] if shape is None else list(shape)
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]
        ),
        string_val=list(values),
    )


def predict_request(
    tensor: tensor_pb2.TensorProto,
    *,
    model: str = MODEL_NAME,
    version: int | None = None,
    version_label: str | None = None,
    signature: str = SERVING_SIGNATURE,
    input_name: str = IMAGES_INPUT,
) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if version_label is not None:
        request.model_spec.version_label = version_label
    request.inputs[input_name].CopyFrom(tensor)
    return request


@dataclass(frozen=True)
class Outcome:
    """What one Predict call came back with: a status, and logits shape when OK."""

    code: grpc.StatusCode
    details: str
    output_shape: tuple[int, ...] = ()
    model_version: int | None = None


def predict(
    channel: grpc.Channel, request: predict_pb2.PredictRequest, timeout_s: float = 60
) -> Outcome:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    try:
        response = stub.Predict(request, timeout=timeout_s)
    except grpc.RpcError as error:
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = (error.details() if isinstance(error, grpc.Call) else None) or ""
        return Outcome(code, details)
    shape = tuple(d.size for d in response.outputs[LOGITS_OUTPUT].tensor_shape.dim)
    version = response.model_spec.version.value if response.model_spec.HasField("version") else None
    return Outcome(grpc.StatusCode.OK, "", shape, version)


def rss_bytes(pid: int) -> int:
    """Resident set size from /proc (Linux): what the kernel would OOM-kill on."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class RssSampler:
    """Peak RSS of a process, sampled every 50 ms on a thread while a ``with`` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except (OSError, RuntimeError):  # the process ended: keep the peak seen
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
