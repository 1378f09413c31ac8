"""The REST API and the Prometheus endpoint as TF Serving serves them (``http_rest_api_
handler.cc``, ``json_tensor.cc``): same URLs, JSON shapes and error body."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.conformance.conftest import Target, not_applicable

TIMEOUT_S = 60
METRIC_NAMES = (":tensorflow:serving:request_count", ":tensorflow:serving:request_latency")


@pytest.fixture(scope="module")
def rest(target: Target, request: pytest.FixtureRequest) -> str:
    if target.rest_url is None:
        not_applicable(request, "no --rest-target URL")
    assert target.rest_url is not None
    return target.rest_url.rstrip("/")


def call(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data), timeout=TIMEOUT_S
        ) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def b64_image(target: Target, bundled_photos: Any) -> dict[str, str]:
    data = (
        target.golden.inputs[0].data
        if target.golden is not None
        else (bundled_photos / "samples" / "cat-with-tongue_224x224.jpg").read_bytes()
    )
    return {"b64": base64.b64encode(data).decode()}


def test_model_status(target: Target, rest: str) -> None:
    code, body = call(f"{rest}/v1/models/{target.model_name}")
    assert code == 200
    entry = body["model_version_status"][0]
    assert set(entry) == {"version", "state", "status"}
    assert isinstance(entry["version"], str)  # int64 → JSON string, as protobuf's JSON
    assert entry["state"] == "AVAILABLE"
    assert entry["status"] == {"error_code": "OK", "error_message": ""}


def test_metadata_shape(target: Target, rest: str) -> None:
    code, body = call(f"{rest}/v1/models/{target.model_name}/metadata")
    assert code == 200
    assert body["model_spec"]["name"] == target.model_name
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["images"]["dtype"] == "DT_STRING"
    assert signature["outputs"]["logits"]["dtype"] == "DT_FLOAT"


def test_predict_row_and_columnar(target: Target, rest: str, bundled_photos: Any) -> None:
    image = b64_image(target, bundled_photos)
    url = f"{rest}/v1/models/{target.model_name}:predict"
    code, rows = call(url, {"instances": [image, image]})
    assert code == 200 and set(rows) == {"predictions"}
    assert [len(row) for row in rows["predictions"]] == [1001, 1001]
    code, columns = call(url, {"inputs": {"images": [image]}})
    assert code == 200 and set(columns) == {"outputs"}
    assert len(columns["outputs"]) == 1 and len(columns["outputs"][0]) == 1001
    if target.golden is not None:
        item = target.golden.inputs[0]
        diff = max(abs(a - b) for a, b in zip(columns["outputs"][0], item.logits, strict=True))
        assert diff <= target.golden.tolerance.allowed(item.logits)


def test_unknown_model_is_404_with_an_error_body(rest: str, bundled_photos: Any) -> None:
    code, body = call(f"{rest}/v1/models/no_such_model")
    assert code == 404 and set(body) == {"error"}
    assert body["error"] == "Could not find any versions of model no_such_model"


def test_bad_json_is_400(target: Target, rest: str) -> None:
    request = urllib.request.Request(
        f"{rest}/v1/models/{target.model_name}:predict", data=b"{not json"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=TIMEOUT_S)
    assert caught.value.code == 400
    assert set(json.loads(caught.value.read())) == {"error"}


def test_prometheus_metric_names(target: Target, rest: str, request: pytest.FixtureRequest) -> None:
    try:
        with urllib.request.urlopen(
            f"{rest}/monitoring/prometheus/metrics", timeout=TIMEOUT_S
        ) as reply:
            text = reply.read().decode()
    except urllib.error.HTTPError as error:
        if not target.is_stand_in and error.code == 404:
            not_applicable(request, "no --monitoring_config_file with prometheus enabled")
        raise
    for name in METRIC_NAMES:
        assert f"# TYPE {name} " in text, name
