"""Request metrics as the real server exports them: histogram bucket semantics (no TF, no
server), and each request counted once by its status at the protocol edge it came in by."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from inception_svm_client.contract import MODEL_NAME
from inception_svm_serving.observability.metrics import Histogram
from tests.harness import ServerHandle
from tests.serving_calls import predict, predict_request, string_tensor


def test_histogram_buckets_are_inclusive_upper_bounds_and_cumulative() -> None:
    histogram = Histogram("h", "help", ("model",), (1.0, 2.0, 4.0))
    for value in (0.5, 1.0, 1.5, 2.0, 4.0, 9.0):
        histogram.observe(value, "m")
    lines = histogram.render()
    assert lines[2:] == [
        'h_bucket{model="m",le="1"} 2',
        'h_bucket{model="m",le="2"} 4',
        'h_bucket{model="m",le="4"} 5',
        'h_bucket{model="m",le="+Inf"} 6',
        'h_sum{model="m"} 18.0',
        'h_count{model="m"} 6',
    ]


def _sample(metrics_text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", metrics_text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _counts(metrics_text: str) -> dict[str, float]:
    """The series this test moves: failures by status, Predict latencies per entrypoint."""
    labels = f'model_name="{MODEL_NAME}"'
    latency = f':tensorflow:serving:request_latency_count{{{labels},API="Predict",entrypoint='
    return {
        "INVALID_ARGUMENT": _sample(
            metrics_text, f':tensorflow:serving:request_count{{{labels},status="INVALID_ARGUMENT"}}'
        ),
        "GRPC": _sample(metrics_text, latency + '"GRPC"}'),
        "REST": _sample(metrics_text, latency + '"REST"}'),
    }


def test_failed_requests_are_counted_once_by_status_at_each_edge(
    batching_server: ServerHandle, channel: grpc.Channel
) -> None:
    """TF Serving counts request_count by status in its gRPC and REST handlers and observes
    request_latency only for requests that succeeded: one bad Predict by each protocol moves
    the INVALID_ARGUMENT count by two and no latency series."""
    before = _counts(batching_server.metrics_text())
    bad_grpc = predict(channel, predict_request(string_tensor([b"x"]), input_name="no_such"))
    assert bad_grpc.code is grpc.StatusCode.INVALID_ARGUMENT, bad_grpc
    body = json.dumps({"instances": [{"b64": "not base64!"}]}).encode()
    url = f"{batching_server.rest_url}/v1/models/{MODEL_NAME}:predict"
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60)
        raise AssertionError("a body with invalid base64 was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 400, error.read()
    after = _counts(batching_server.metrics_text())
    assert {key: after[key] - before[key] for key in after} == {
        "INVALID_ARGUMENT": 2,
        "GRPC": 0,
        "REST": 0,
    }


def test_only_inference_requests_count_like_tf_serving(
    batching_server: ServerHandle, channel: grpc.Channel, jpeg_images: list[bytes]
) -> None:
    """TF Serving's gRPC service counts Predict/Classify/Regress, not GetModelStatus or
    GetModelMetadata: readiness probes and the client's metadata check must not move
    request_count, while one good Predict moves it and its latency series by one each."""
    ok = f':tensorflow:serving:request_count{{model_name="{MODEL_NAME}",status="OK"}}'
    latency = (
        f':tensorflow:serving:request_latency_count{{model_name="{MODEL_NAME}",'
        'API="Predict",entrypoint="GRPC"}'
    )
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = MODEL_NAME
    metadata_request = get_model_metadata_pb2.GetModelMetadataRequest(
        metadata_field=["signature_def"]
    )
    metadata_request.model_spec.name = MODEL_NAME
    before = batching_server.metrics_text()
    for _ in range(3):
        model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request, timeout=60)
        prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(
            metadata_request, timeout=60
        )
    middle = batching_server.metrics_text()
    assert _sample(middle, ok) == _sample(before, ok)
    answer = predict(channel, predict_request(string_tensor(jpeg_images[:1])))
    assert answer.code is grpc.StatusCode.OK, answer
    after = batching_server.metrics_text()
    assert _sample(after, ok) - _sample(middle, ok) == 1
    assert _sample(after, latency) - _sample(middle, latency) == 1
