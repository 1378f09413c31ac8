"""An in-process PredictionService built on TF Serving's OFFICIAL stubs.

It proves our hand-written protos interoperate with the real generated code, and its
scripted behaviour (fail the first calls, reject marked images, answer with float_val)
lets the client's retry, bisection and parsing paths run deterministically. Features are
a deterministic function of the image bytes, so tests can check order exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

REJECTED_PREFIX = b"REJECT"


def expected_features(image: bytes, dim: int) -> np.ndarray:
    """What this server returns for ``image``: reproducible, distinct per image."""
    seed = int.from_bytes(hashlib.sha256(image).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


@dataclass
class Script:
    feature_dim: int = 8
    output_dtype: int = types_pb2.DT_FLOAT
    input_dtype: int = types_pb2.DT_STRING
    fail_first: int = 0
    fail_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    use_float_val: bool = False
    # How long the Nth Predict call takes (the last entry repeats); the calls the client
    # cancels meanwhile are counted (and answered at once, the answer goes nowhere).
    delays_s: tuple[float, ...] = ()
    cancelled: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    calls: int = 0


def _shape(*dims: int) -> tensor_shape_pb2.TensorShapeProto:
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]
    )


class ScriptedServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, script: Script) -> None:
        self.script = script
        self._lock = threading.Lock()

    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
        signature.inputs["images"].CopyFrom(
            meta_graph_pb2.TensorInfo(
                name="x:0", dtype=self.script.input_dtype, tensor_shape=_shape(-1)
            )
        )
        signature.outputs["logits"].CopyFrom(
            meta_graph_pb2.TensorInfo(
                name="y:0",
                dtype=self.script.output_dtype,
                tensor_shape=_shape(-1, self.script.feature_dim),
            )
        )
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        signature_map.signature_def["serving_default"].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = 7
        response.metadata["signature_def"].Pack(signature_map)
        return response

    def Predict(
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        with self._lock:
            self.script.calls += 1
            delays = self.script.delays_s
            delay_s = delays[min(self.script.calls, len(delays)) - 1] if delays else 0.0
            if self.script.calls <= self.script.fail_first:
                context.abort(self.script.fail_code, "scripted failure")
        if delay_s:
            # Waits for the delay or for the call to end, whichever comes first: a call the
            # client cancels is counted when the cancellation arrives, however late.
            ended = threading.Event()
            context.add_callback(ended.set)
            if ended.wait(delay_s) or not context.is_active():
                with self._lock:
                    self.script.cancelled += 1
                return predict_pb2.PredictResponse()
        images = list(request.inputs["images"].string_val)
        if any(image.startswith(REJECTED_PREFIX) for image in images):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Invalid JPEG data or crop window")
        with self._lock:
            self.script.batch_sizes.append(len(images))
        dim = self.script.feature_dim
        logits = np.stack([expected_features(i, dim) for i in images]).reshape(len(images), dim)
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(*logits.shape)
        )
        if self.script.use_float_val:
            tensor.float_val.extend(logits.ravel().tolist())
        else:
            tensor.tensor_content = logits.tobytes()
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.outputs["logits"].CopyFrom(tensor)
        return response


@contextlib.contextmanager
def scripted_server(
    script: Script, credentials: grpc.ServerCredentials | None = None
) -> Iterator[str]:
    """Serve on a free 127.0.0.1 port; yields the ``host:port`` target."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        ScriptedServicer(script), server
    )
    address = "127.0.0.1:0"
    port = (
        server.add_secure_port(address, credentials)
        if credentials is not None
        else server.add_insecure_port(address)
    )
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)
