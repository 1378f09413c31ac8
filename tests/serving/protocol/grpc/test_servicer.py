"""PredictionService / ModelService / Health over real gRPC, with the official stubs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tests.harness import MODEL_NAME, ServerHandle
from tests.serving_calls import predict_request, string_tensor

TIMEOUT_S = 60


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> prediction_service_pb2_grpc.PredictionServiceStub:
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def in_process_model(model_base_path: Path) -> Any:
    return tf.saved_model.load(str(model_base_path / "1"))


def test_predict_equals_in_process_savedmodel_exactly(
    stub: Any, in_process_model: Any, jpeg_images: list[bytes]
) -> None:
    # No signature name in the request: the server must answer with the default one.
    request = predict_request(string_tensor(jpeg_images), signature="")
    response = stub.Predict(request, timeout=TIMEOUT_S)
    served = tf.make_ndarray(response.outputs["logits"])
    expected = in_process_model.signatures["serving_default"](images=tf.constant(jpeg_images))
    # TF Serving's default form: typed float_val, not tensor_content (tests/conformance)
    assert response.outputs["logits"].float_val and not response.outputs["logits"].tensor_content
    assert served.dtype == np.float32 and served.shape == (4, 1001)
    np.testing.assert_array_equal(served, expected["logits"].numpy())
    assert response.model_spec.name == MODEL_NAME
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"


def test_predict_pixels_signature_with_output_filter(stub: Any, in_process_model: Any) -> None:
    pixels = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    request = _pixels_request(pixels, version=1)
    request.output_filter.append("logits")
    response = stub.Predict(request, timeout=TIMEOUT_S)
    expected = in_process_model.signatures["predict_pixels"](pixels=tf.constant(pixels))
    np.testing.assert_array_equal(
        tf.make_ndarray(response.outputs["logits"]), expected["logits"].numpy()
    )


def test_metadata_returns_both_signatures(stub: Any) -> None:
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = MODEL_NAME
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=TIMEOUT_S)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_map)
    default = signature_map.signature_def["serving_default"]
    assert default.inputs["images"].dtype == tf.string.as_datatype_enum
    assert [d.size for d in default.outputs["logits"].tensor_shape.dim] == [-1, 1001]
    assert "predict_pixels" in signature_map.signature_def
    assert response.model_spec.version.value == 1


def test_model_status_available(channel: grpc.Channel) -> None:
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL_NAME
    (status,) = stub.GetModelStatus(request, timeout=TIMEOUT_S).model_version_status
    assert status.version == 1
    assert status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE


def test_health_serving_for_both_service_names(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "tensorflow.serving.PredictionService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def _pixels_request(array: np.ndarray, version: int | None = None) -> predict_pb2.PredictRequest:
    tensor = tf.make_tensor_proto(array)
    return predict_request(tensor, version=version, signature="predict_pixels", input_name="pixels")


def _with_extra_input(images: list[bytes]) -> predict_pb2.PredictRequest:
    request = predict_request(string_tensor(images))
    request.inputs["extra"].CopyFrom(tf.make_tensor_proto([1.0]))
    return request


ERROR_CASES: dict[str, tuple[Callable[[list[bytes]], Any], grpc.StatusCode, str]] = {
    "unknown label": (
        lambda imgs: predict_request(string_tensor(imgs), version_label="canary"),
        grpc.StatusCode.NOT_FOUND,
        "canary",
    ),
    "undecodable image": (
        lambda imgs: predict_request(string_tensor([b"this is not a jpeg"])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'images'",
    ),
    "empty batch": (
        lambda imgs: predict_request(string_tensor([])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'images'.*empty batch",
    ),
    "wrong dtype": (
        lambda imgs: _pixels_request(np.zeros((1, 224, 224, 3), np.float64)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'pixels'.*float",
    ),
    "wrong shape": (
        lambda imgs: _pixels_request(np.zeros((1, 224, 224), np.float32)),  # graph rejects rank 3
        grpc.StatusCode.INVALID_ARGUMENT,
        "'pixels'.*(rank|dimension|shape)",
    ),
    "unknown input": (_with_extra_input, grpc.StatusCode.INVALID_ARGUMENT, "extra"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_bad_requests_get_their_status_code(case: str, stub: Any, jpeg_images: list[bytes]) -> None:
    build, code, message = ERROR_CASES[case]
    with pytest.raises(grpc.RpcError) as raised:
        stub.Predict(build(jpeg_images[:1]), timeout=TIMEOUT_S)
    assert raised.value.code() == code
    assert re.search(message, raised.value.details()), raised.value.details()


def test_classify_is_unimplemented(stub: Any) -> None:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = MODEL_NAME
    with pytest.raises(grpc.RpcError) as raised:
        stub.Classify(request, timeout=TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _observed_batch_sizes(metrics_text: str) -> dict[float, float]:
    """Cumulative bucket counts of the processed batch size histogram, by upper bound."""
    pattern = re.compile(
        r":tensorflow:serving:batching:batch_size_bucket\{[^}]*"
        r'op_name="serving_default",le="([^"]+)"\} ([0-9.e+]+)'
    )
    return {float(le): float(count) for le, count in pattern.findall(metrics_text)}


def _predict_concurrently(stub: Any, requests: list[Any]) -> list[grpc.RpcError | None]:
    futures = [stub.Predict.future(r, timeout=TIMEOUT_S) for r in requests]
    return [f.exception() for f in futures]


def test_concurrent_requests_are_merged_into_batches(
    stub: Any, batching_server: ServerHandle, jpeg_images: list[bytes]
) -> None:
    before = _observed_batch_sizes(batching_server.metrics_text())
    requests = [predict_request(string_tensor([jpeg_images[i % 4]])) for i in range(16)]
    assert _predict_concurrently(stub, requests) == [None] * 16
    after = _observed_batch_sizes(batching_server.metrics_text())
    singles = after[1.0] - before.get(1.0, 0.0)
    batches = after[float("inf")] - before.get(float("inf"), 0.0)
    assert batches > singles, f"no batch merged more than one request ({after})"


def _ok_request_count(metrics_text: str) -> int:
    pattern = r'^:tensorflow:serving:request_count\{model_name="inception_v1",status="OK"\} (\d+)$'
    found = re.search(pattern, metrics_text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def test_metrics_use_tf_serving_names_and_labels(
    stub: Any, batching_server: ServerHandle, jpeg_images: list[bytes]
) -> None:
    """Dashboards and the HPA rule are written against the real server's exporter."""
    before = _ok_request_count(batching_server.metrics_text())
    stub.Predict(predict_request(string_tensor(jpeg_images[:1])), timeout=TIMEOUT_S)
    text = batching_server.metrics_text()
    assert _ok_request_count(text) == before + 1
    families = dict(re.findall(r"^# TYPE (\S+) (\w+)$", text, re.MULTILINE))
    assert families[":tensorflow:serving:request_count"] == "counter"
    assert families[":tensorflow:serving:request_latency"] == "histogram"
    assert families[":tensorflow:serving:batching_session:queuing_latency"] == "histogram"
    assert not [name for name in families if name.endswith("_total")]
    latency = ':tensorflow:serving:request_latency_bucket{model_name="inception_v1",API="Predict",'
    assert latency + 'entrypoint="GRPC",le="+Inf"}' in text
    assert re.search(r'queuing_latency_bucket\{thread_pool_name="batch_threads",le="\+Inf"\}', text)


def test_a_bad_image_fails_only_its_own_request(stub: Any, jpeg_images: list[bytes]) -> None:
    requests = [predict_request(string_tensor([jpeg_images[i % 4]])) for i in range(12)]
    requests[5] = predict_request(string_tensor([b"not an image"]))
    errors = _predict_concurrently(stub, requests)
    assert [i for i, e in enumerate(errors) if e is not None] == [5]
    assert errors[5] is not None and errors[5].code() == grpc.StatusCode.INVALID_ARGUMENT


def test_tensor_size_is_checked_before_conversion() -> None:
    """Issue 27: a count of strings or rows over the batch limit is refused from the
    repeated field's length and the shape, before make_ndarray materialises them."""
    from inception_svm_serving._exceptions import InvalidArgument
    from inception_svm_serving.protocol.grpc.servicer import check_tensor_size

    check_tensor_size("images", string_tensor([b""] * 10), max_rows=10)
    with pytest.raises(InvalidArgument, match=r"request has 11 images.*max_request_batch_size"):
        check_tensor_size("images", string_tensor([b""] * 11, shape=[1]), max_rows=10)
    with pytest.raises(InvalidArgument, match="request has 5000 images"):
        check_tensor_size("images", string_tensor([b""], shape=[5000]), max_rows=10)
