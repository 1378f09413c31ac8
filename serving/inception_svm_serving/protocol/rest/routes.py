"""TF Serving's REST API on --rest_api_port: routing and JSON (HTTP plumbing: http_server.py).

Routes: ``GET /v1/models/NAME[/versions/N|/labels/L]`` (status), ``GET .../metadata``,
``POST ...:predict``, and the Prometheus path from --monitoring_config_file, which the real
server also serves on its REST port. Errors use TF Serving's ``{"error": "..."}`` body with the
HTTP status mapped in _exceptions.py.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from google.protobuf import json_format

from inception_svm_serving._exceptions import InvalidArgument, NotFound
from inception_svm_serving.config.options import MonitoringOptions
from inception_svm_serving.core.data_plane import DataPlane, ModelRef
from inception_svm_serving.core.memory import trim_after_large_request
from inception_svm_serving.observability.metrics import PROMETHEUS_CONTENT_TYPE, ServerMetrics
from inception_svm_serving.protocol._model_service import signature_def_map, status_response
from inception_svm_serving.protocol._outcome import request_failed, request_succeeded
from inception_svm_serving.protocol.rest import _numeric_json as numeric_json
from inception_svm_serving.protocol.rest._json_codec import (
    error_json,
    parse_predict_body,
    predict_response,
)
from inception_svm_serving.protocol.rest._numeric_json import NumericText

_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<suffix>/metadata|:predict|:classify|:regress)?$"
)


# Deeper JSON is refused before it reaches recursive code: no legitimate request nests more
# than a few levels (instances -> row -> {"b64": ...}).
MAX_JSON_DEPTH = 64


_REST_APIS = {"/metadata": "GetModelMetadata", ":predict": "Predict", "": "GetModelStatus"}


def _json_proto(message: Any) -> Any:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (the point is to not recurse)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, NumericText):
            deepest = max(deepest, depth - 1 + item.depth)
        elif isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(body: bytes | bytearray) -> Any:
    """Large numeric arrays stay text until the signature's dtype is known (_numeric_json)."""
    too_deep = InvalidArgument(f"JSON parse error: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = numeric_json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidArgument(f"JSON parse error: {error}") from error
    except RecursionError:
        raise too_deep from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise too_deep
    return value


class RestApi:
    """Routing and JSON, independent of the HTTP server plumbing."""

    def __init__(self, plane: DataPlane, metrics: ServerMetrics, monitoring: MonitoringOptions):
        self._plane = plane
        self._metrics = metrics
        self._monitoring = monitoring

    def handle(self, method: str, path: str, body: bytes | bytearray) -> tuple[int, str, bytes]:
        path = path.split("?", 1)[0]
        if (
            method == "GET"
            and self._monitoring.prometheus_enabled
            and path == self._monitoring.prometheus_path
        ):
            return 200, PROMETHEUS_CONTENT_TYPE, self._metrics.exposition()
        started = time.perf_counter()
        match = _ROUTE.match(path)
        name = match.group("name") if match else ""
        api = "unknown"
        try:
            if match is None:
                raise NotFound(f"Malformed request: {method} {path}")
            suffix = match.group("suffix") or ""
            api = _REST_APIS.get(suffix, "")
            version = int(match.group("version")) if match.group("version") else None
            ref = ModelRef(name, version, match.group("label"))
            payload = self._dispatch(method, api, ref, body)
        except Exception as raw:
            error = request_failed(raw, self._metrics, name, api, "REST", started)
            status, message = int(error.code.http_status), error.message
            # The error's traceback holds this frame, which held the error: a cycle that kept
            # the request's arrays (96 MB for a refused pixel body) until a full gc pass.
            del error
            return status, "application/json", error_json(message)
        request_succeeded(self._metrics, name, api, "REST", started)
        return 200, "application/json", json.dumps(payload).encode("utf-8")

    def _dispatch(self, method: str, api: str, ref: ModelRef, body: bytes | bytearray) -> Any:
        if api == "GetModelStatus" and method == "GET":
            return _json_proto(status_response(self._plane.status(ref)))
        if api == "GetModelMetadata" and method == "GET":
            metadata = self._plane.metadata(ref)
            return {
                "model_spec": {
                    "name": metadata.model_name,
                    "signature_name": "",
                    "version": str(metadata.version),
                },
                "metadata": {"signature_def": _json_proto(signature_def_map(metadata))},
            }
        if api == "Predict" and method == "POST":
            with trim_after_large_request(len(body)):
                return self._predict(ref, body)
        raise InvalidArgument(f"unsupported request: {method} on {api or 'this path'}")

    def _predict(self, ref: ModelRef, body: bytes | bytearray) -> Any:
        request = parse_json(body)
        if isinstance(request, dict) and isinstance(request.get("signature_name"), str):
            ref = ModelRef(ref.name, ref.version, ref.label, request["signature_name"])
        with self._plane.predict_call(ref) as call:  # decode and run on one version
            inputs, row_format = parse_predict_body(request, call.signature)
            result = call.predict(inputs)
        return predict_response(result.outputs, row_format)
