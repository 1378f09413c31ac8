"""The gRPC API as TF Serving defines it: status codes, messages, metadata, Predict and
health. Messages are asserted where TF Serving's are known from its source (files cited);
every test runs against the stand-in and against ``--target``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from tests.conformance.conftest import Target, not_applicable
from tests.serving_calls import predict_request, string_tensor

TIMEOUT_S = 60
AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE


@pytest.fixture(scope="module")
def predict(conformance_channel: grpc.Channel) -> Callable[..., Any]:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(conformance_channel)
    return lambda request: stub.Predict(request, timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def metadata(conformance_channel: grpc.Channel) -> Callable[..., Any]:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(conformance_channel)
    return lambda request: stub.GetModelMetadata(request, timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def status(conformance_channel: grpc.Channel) -> Callable[..., Any]:
    stub = model_service_pb2_grpc.ModelServiceStub(conformance_channel)
    return lambda request: stub.GetModelStatus(request, timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def image(target: Target, bundled_photos: Any) -> bytes:
    if target.golden is not None:
        return target.golden.inputs[0].data
    return bytes((bundled_photos / "samples" / "cat-with-tongue_224x224.jpg").read_bytes())


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def metadata_request(model: str, *fields: str) -> Any:
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=list(fields))
    request.model_spec.name = model
    return request


def status_request(model: str, version: int | None = None) -> Any:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    return request


# -- health and status ---------------------------------------------------------------------


def test_health_is_serving(
    target: Target, conformance_channel: grpc.Channel, request: pytest.FixtureRequest
) -> None:
    stub = health_pb2_grpc.HealthStub(conformance_channel)
    try:
        reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_S)
    except grpc.RpcError as error:
        if not target.is_stand_in and error.code() == grpc.StatusCode.UNIMPLEMENTED:
            not_applicable(request, "started without --enable_grpc_healthcheck_service=true")
        raise
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_status_lists_an_available_version(target: Target, status: Callable[..., Any]) -> None:
    reply = status(status_request(target.model_name))
    states = {entry.version: entry for entry in reply.model_version_status}
    available = [v for v, entry in states.items() if entry.state == AVAILABLE]
    assert available, reply
    entry = states[available[0]]
    assert entry.status.error_code == 0 and entry.status.error_message == ""
    # One version asked for: only that one answered (get_model_status_impl.cc).
    single = status(status_request(target.model_name, available[0]))
    assert [e.version for e in single.model_version_status] == [available[0]]


def test_status_of_unknown_model_and_version_is_not_found(
    target: Target, status: Callable[..., Any]
) -> None:
    error = rpc_error(lambda: status(status_request("no_such_model")))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "Could not find any versions of model no_such_model"
    error = rpc_error(lambda: status(status_request(target.model_name, 987654)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == f"Could not find version 987654 of model {target.model_name}"


# -- metadata ------------------------------------------------------------------------------


def test_metadata_has_the_exported_signatures(target: Target, metadata: Callable[..., Any]) -> None:
    reply = metadata(metadata_request(target.model_name, "signature_def"))
    assert reply.model_spec.name == target.model_name
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert reply.metadata["signature_def"].Unpack(signature_map)
    serving = signature_map.signature_def["serving_default"]
    images, logits = serving.inputs["images"], serving.outputs["logits"]
    assert images.dtype == types_pb2.DT_STRING
    assert [d.size for d in images.tensor_shape.dim] == [-1]
    assert logits.dtype == types_pb2.DT_FLOAT
    assert [d.size for d in logits.tensor_shape.dim] == [-1, 1001]
    pixels = signature_map.signature_def["predict_pixels"].inputs["pixels"]
    assert [d.size for d in pixels.tensor_shape.dim] == [-1, 224, 224, 3]
    if target.golden is not None:
        assert reply.model_spec.version.value == target.golden.identity.version


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((), "GetModelMetadataRequest must specify at least one metadata_field"),
        (("signature_def", "graph"), "Metadata field graph is not supported"),
    ],
)
def test_metadata_field_errors(
    target: Target, metadata: Callable[..., Any], fields: tuple[str, ...], message: str
) -> None:
    """get_model_metadata_impl.cc: ValidateGetModelMetadataRequest."""
    error = rpc_error(lambda: metadata(metadata_request(target.model_name, *fields)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message


# -- Predict -------------------------------------------------------------------------------


def test_predict_default_signature_answers_in_typed_fields(
    target: Target, predict: Callable[..., Any], image: bytes
) -> None:
    """No signature name → serving_default; outputs in float_val, TF Serving's default
    (``--enable_serialization_as_tensor_content=false``, server.h)."""
    reply = predict(
        predict_request(string_tensor([image, image]), model=target.model_name, signature="")
    )
    logits = reply.outputs["logits"]
    assert [d.size for d in logits.tensor_shape.dim] == [2, 1001]
    assert len(logits.float_val) == 2 * 1001 and not logits.tensor_content
    assert reply.model_spec.name == target.model_name
    assert reply.model_spec.signature_name == "serving_default"
    assert reply.model_spec.version.value > 0
    values = tf.make_ndarray(logits)
    np.testing.assert_array_equal(values[0], values[1])


def test_predict_matches_the_golden_outputs(
    target: Target, predict: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    if target.golden is None:
        not_applicable(request, "no --golden FILE of the served export")
    golden = target.golden
    assert golden is not None
    reply = predict(
        predict_request(
            string_tensor([item.data for item in golden.inputs]), model=target.model_name
        )
    )
    served = tf.make_ndarray(reply.outputs["logits"])
    for row, item in zip(served, golden.inputs, strict=True):
        allowed = golden.tolerance.allowed(item.logits)
        assert float(np.max(np.abs(row - item.logits))) <= allowed, item.name


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        (
            {"signature": "no_such_signature"},
            grpc.StatusCode.FAILED_PRECONDITION,
            'Serving signature key "no_such_signature" not found.',  # predict_util.cc
        ),
        (
            {"model": "no_such_model"},
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Latest(no_such_model)",  # basic_manager.cc
        ),
        (
            {"version": 987654},
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Specific({model}, 987654)",  # servable_handle.h
        ),
        ({"input_name": "pictures"}, grpc.StatusCode.INVALID_ARGUMENT, None),
    ],
)
def test_predict_errors(
    target: Target,
    predict: Callable[..., Any],
    image: bytes,
    overrides: dict[str, Any],
    code: grpc.StatusCode,
    message: str | None,
) -> None:
    arguments = {"model": target.model_name, **overrides}
    error = rpc_error(lambda: predict(predict_request(string_tensor([image]), **arguments)))
    assert error.code() == code, error.details()
    if message is not None:
        expected = message.format(model=target.model_name)
        assert error.details().startswith(expected), error.details()


def test_predict_unknown_output_filter(
    target: Target, predict: Callable[..., Any], image: bytes
) -> None:
    request = predict_request(string_tensor([image]), model=target.model_name)
    request.output_filter.append("probabilities")
    error = rpc_error(lambda: predict(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    # predict_util.cc: "output tensor alias not found in signature: <alias> ..."
    assert error.details().startswith("output tensor alias not found in signature: probabilities")


@pytest.mark.parametrize("payload", [b"", b"not an image", b"\xff\xd8\xff\xe0 truncated"])
def test_predict_undecodable_image_is_invalid_argument(
    target: Target, predict: Callable[..., Any], payload: bytes
) -> None:
    error = rpc_error(
        lambda: predict(predict_request(string_tensor([payload]), model=target.model_name))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_predict_wrong_dtype_is_invalid_argument(
    target: Target, predict: Callable[..., Any]
) -> None:
    request = predict_request(string_tensor([b""]), model=target.model_name)
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.zeros([1], np.float32)))
    error = rpc_error(lambda: predict(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
