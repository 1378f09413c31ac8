"""The one exception tree of the server, and the one mapping of its codes to wire statuses.

Every layer below the protocol raises these; the gRPC wrapper (servicer.py) and the REST
handler (rest.py) convert them exactly once, so gRPC and REST always agree on the status of a
failure. This module only describes failures: the request metrics are recorded at those two
boundaries (request_outcome.py).
"""

from __future__ import annotations

import enum
from http import HTTPStatus

import grpc


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
