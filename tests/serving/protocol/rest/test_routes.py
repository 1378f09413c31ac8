"""REST on --rest_api_port: TF Serving's JSON shapes, equivalent to gRPC results."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.harness import MODEL_NAME, ServerHandle


def call(server: ServerHandle, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.rest_url + path, data=data)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def grpc_logits(channel: grpc.Channel, images: list[bytes]) -> np.ndarray:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL_NAME
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    return tf.make_ndarray(stub.Predict(request, timeout=60).outputs["logits"])


def test_status_json(batching_server: ServerHandle) -> None:
    status, body = call(batching_server, f"/v1/models/{MODEL_NAME}")
    assert status == 200
    assert body == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def test_metadata_json(batching_server: ServerHandle) -> None:
    status, body = call(batching_server, f"/v1/models/{MODEL_NAME}/versions/1/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": MODEL_NAME, "signature_name": "", "version": "1"}
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["images"]["dtype"] == "DT_STRING"


@pytest.mark.parametrize("row_format", [True, False], ids=["instances", "inputs"])
def test_predict_equals_grpc(
    row_format: bool, batching_server: ServerHandle, channel: grpc.Channel, jpeg_images: list[bytes]
) -> None:
    images = jpeg_images[:2]
    encoded = [{"b64": base64.b64encode(i).decode()} for i in images]
    body = {"instances": encoded} if row_format else {"inputs": {"images": encoded}}
    status, reply = call(batching_server, f"/v1/models/{MODEL_NAME}:predict", body)
    assert status == 200, reply
    rest = np.asarray(reply["predictions" if row_format else "outputs"], dtype=np.float32)
    np.testing.assert_array_equal(rest, grpc_logits(channel, images))


@pytest.mark.parametrize(
    ("path", "body", "http_status"),
    [
        ("/v1/models/nope:predict", {"instances": [{"b64": ""}]}, 404),
        (f"/v1/models/{MODEL_NAME}/versions/9", None, 404),
        (f"/v1/models/{MODEL_NAME}:predict", {"instances": [{"b64": "bm90IGFuIGltYWdl"}]}, 400),
        (f"/v1/models/{MODEL_NAME}:predict", {"instances": []}, 400),
        (f"/v1/models/{MODEL_NAME}:predict", {"wrong": 1}, 400),
    ],
    ids=["unknown-model", "unknown-version", "bad-image", "empty", "malformed"],
)
def test_errors_use_tf_serving_format(
    path: str, body: Any, http_status: int, batching_server: ServerHandle
) -> None:
    status, reply = call(batching_server, path, body)
    assert status == http_status
    assert set(reply) == {"error"} and reply["error"]
