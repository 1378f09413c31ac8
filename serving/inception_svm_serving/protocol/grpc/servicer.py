"""gRPC PredictionService and ModelService on the official tensorflow_serving.apis stubs.

Only protocol work happens here: TensorProto <-> numpy with TF's own ``make_ndarray`` /
``make_tensor_proto`` (outputs in the form ``--enable_serialization_as_tensor_content`` picks,
see ``_tensor_serialization``), and one
wrapper that turns any error into its status code and records the request metrics.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from inception_svm_serving._exceptions import InvalidArgument, Unimplemented
from inception_svm_serving.config.options import RequestLimits
from inception_svm_serving.core.data_plane import DataPlane, ModelRef
from inception_svm_serving.core.memory import trim_after_large_request
from inception_svm_serving.observability.metrics import ServerMetrics
from inception_svm_serving.protocol._model_service import metadata_response, status_response
from inception_svm_serving.protocol._outcome import request_failed, request_succeeded
from inception_svm_serving.protocol.grpc._tensor_serialization import array_to_tensor

Request = TypeVar("Request")
Response = TypeVar("Response")
Handler = Callable[[Any, Request, grpc.ServicerContext], Response]


def model_ref(model_spec: Any) -> ModelRef:
    choice = model_spec.WhichOneof("version_choice")
    return ModelRef(
        name=model_spec.name,
        version=model_spec.version.value if choice == "version" else None,
        label=model_spec.version_label if choice == "version_label" else None,
        signature_name=getattr(model_spec, "signature_name", ""),
    )


def check_tensor_size(name: str, tensor: Any, max_rows: int) -> None:
    """Refuse a TensorProto with more rows (dimension 0) or more strings than a request may
    carry images, before ``make_ndarray`` builds a Python bytes object per string: 33 M
    empty strings took 2.8 s and 1.6 GB to convert only to be refused by admission. Counting
    is free (``len`` of a repeated field, the shape's first dim). Same wording as admission
    (core/admission.py), so a caller sees one limit whichever check fires."""
    dims = tensor.tensor_shape.dim
    rows = max(int(dims[0].size) if dims else 0, len(tensor.string_val))
    if rows > max_rows:
        raise InvalidArgument(
            f"request has {rows} images; the limit is {max_rows} per request "
            f"(max_request_batch_size): split it into smaller requests (input '{name}')"
        )


def tensor_to_array(name: str, tensor: Any) -> np.ndarray:
    try:
        return np.asarray(tf.make_ndarray(tensor))
    except Exception as error:
        raise InvalidArgument(f"input '{name}': malformed TensorProto: {error}") from error


def rpc(
    api: str, metrics: ServerMetrics, *, counted: bool = True
) -> Callable[[Handler[Any, Any]], Handler[Any, Any]]:
    """The one gRPC boundary: ServingError -> status, anything else -> INTERNAL, and the
    request metrics recorded once (protocol/_outcome.py). ``counted`` False: TF Serving's gRPC
    service records request metrics for Predict, Classify and Regress only (not metadata,
    MultiInference or the ModelService), so readiness probes do not inflate them."""

    def decorate(handler: Handler[Any, Any]) -> Handler[Any, Any]:
        @functools.wraps(handler)
        def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            spec = getattr(request, "model_spec", None)
            model = spec.name if spec is not None else getattr(request, "name", "")
            try:
                response = handler(self, request, context)
            except Exception as raw:
                error = request_failed(
                    raw, metrics if counted else None, model, api, "GRPC", started
                )
                code, message = error.code.grpc_code, error.message
                del error  # no frame <-> traceback cycle keeping the request's arrays alive
                context.abort(code, message)
            if counted:
                request_succeeded(metrics, model, api, "GRPC", started)
            return response

        return wrapper

    return decorate


def validate_metadata_fields(fields: list[str]) -> None:
    """TF Serving's checks and messages (``get_model_metadata_impl.cc``)."""
    if not fields:
        raise InvalidArgument("GetModelMetadataRequest must specify at least one metadata_field")
    for field in fields:
        if field != "signature_def":
            raise InvalidArgument(f"Metadata field {field} is not supported")


def build_servicers(
    plane: DataPlane,
    metrics: ServerMetrics,
    *,
    as_tensor_content: bool = False,
    max_request_batch_size: int = RequestLimits.max_request_batch_size,
) -> tuple[Any, Any]:
    class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        @rpc("Predict", metrics)
        def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
            with trim_after_large_request(request.ByteSize()):
                ref = model_ref(request.model_spec)
                for key, tensor in request.inputs.items():
                    check_tensor_size(key, tensor, max_request_batch_size)
                inputs = {k: tensor_to_array(k, v) for k, v in request.inputs.items()}
                result = plane.predict(ref, inputs, list(request.output_filter))
                response = predict_pb2.PredictResponse()
                response.model_spec.name = result.model_name
                response.model_spec.version.value = result.version
                response.model_spec.signature_name = result.signature_name
                for key, value in result.outputs.items():
                    response.outputs[key].CopyFrom(
                        array_to_tensor(value, as_tensor_content=as_tensor_content)
                    )
                return response

        @rpc("GetModelMetadata", metrics, counted=False)
        def GetModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
            validate_metadata_fields(list(request.metadata_field))
            return metadata_response(plane.metadata(model_ref(request.model_spec)))

        @rpc("Classify", metrics)
        def Classify(self, request: Any, context: grpc.ServicerContext) -> Any:
            raise Unimplemented("Classify is not supported: the model has predict signatures")

        @rpc("Regress", metrics)
        def Regress(self, request: Any, context: grpc.ServicerContext) -> Any:
            raise Unimplemented("Regress is not supported: the model has predict signatures")

        @rpc("MultiInference", metrics, counted=False)
        def MultiInference(self, request: Any, context: grpc.ServicerContext) -> Any:
            raise Unimplemented("MultiInference is not supported")

    class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
        @rpc("GetModelStatus", metrics, counted=False)
        def GetModelStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
            return status_response(plane.status(model_ref(request.model_spec)))

        @rpc("HandleReloadConfigRequest", metrics, counted=False)
        def HandleReloadConfigRequest(self, request: Any, context: grpc.ServicerContext) -> Any:
            raise Unimplemented("config reload: restart the server with the new config file")

    return PredictionServicer(), ModelServicer()
