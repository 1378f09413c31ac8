"""The one exception tree of the server, and the one place it becomes a wire status.

Every layer below the protocol raises these; the gRPC interceptor-style decorator and the REST
handler convert them exactly once, so gRPC and REST always agree on the status of a failure.
"""

from __future__ import annotations

import enum
import json
from http import HTTPStatus

import grpc

from inception_svm_serving.logs import log_event
from inception_svm_serving.metrics import ServerMetrics


class Code(enum.Enum):
    INVALID_ARGUMENT = (grpc.StatusCode.INVALID_ARGUMENT, HTTPStatus.BAD_REQUEST)
    NOT_FOUND = (grpc.StatusCode.NOT_FOUND, HTTPStatus.NOT_FOUND)
    UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, HTTPStatus.SERVICE_UNAVAILABLE)
    RESOURCE_EXHAUSTED = (grpc.StatusCode.RESOURCE_EXHAUSTED, HTTPStatus.TOO_MANY_REQUESTS)
    UNIMPLEMENTED = (grpc.StatusCode.UNIMPLEMENTED, HTTPStatus.NOT_IMPLEMENTED)
    FAILED_PRECONDITION = (grpc.StatusCode.FAILED_PRECONDITION, HTTPStatus.BAD_REQUEST)
    INTERNAL = (grpc.StatusCode.INTERNAL, HTTPStatus.INTERNAL_SERVER_ERROR)

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return self.value[0]

    @property
    def http_status(self) -> HTTPStatus:
        return self.value[1]


class ServingError(Exception):
    """A failure with a status; the message is returned to the caller verbatim."""

    code = Code.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ServingError):
    code = Code.INVALID_ARGUMENT


class NotFound(ServingError):
    code = Code.NOT_FOUND


class Unavailable(ServingError):
    code = Code.UNAVAILABLE


class ResourceExhausted(ServingError):
    code = Code.RESOURCE_EXHAUSTED


class Unimplemented(ServingError):
    code = Code.UNIMPLEMENTED


class FailedPrecondition(ServingError):
    code = Code.FAILED_PRECONDITION


class Internal(ServingError):
    code = Code.INTERNAL


class ConfigError(Exception):
    """Bad flags or config files: reported at startup, exit code 2, never at request time."""


def as_serving_error(error: BaseException) -> ServingError:
    """Unexpected exceptions become INTERNAL so the server never dies on a request."""
    if isinstance(error, ServingError):
        return error
    return Internal(f"{type(error).__name__}: {error}")


def request_failed(
    raw: BaseException,
    metrics: ServerMetrics,
    model: str,
    api: str,
    entrypoint: str,
    seconds: float,
) -> ServingError:
    """The error boundary of both protocols: the status, the request metrics, and a log line
    for INTERNAL, whose cause is a server bug rather than the request."""
    error = as_serving_error(raw)
    metrics.record_request(model, api, entrypoint, error.code.name, seconds)
    if error.code is Code.INTERNAL:
        log_event("request_failed", api=api, model=model, error=error.message)
    return error


def rest_error_body(error: ServingError) -> bytes:
    return error_json(error.message)


def error_json(message: str) -> bytes:
    """TF Serving's REST error shape: ``{"error": "<message>"}``."""
    return json.dumps({"error": message}).encode("utf-8")
