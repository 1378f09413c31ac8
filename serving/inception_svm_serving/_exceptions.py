"""The one exception tree of the package, and the one mapping of its codes to wire statuses.

Everything the package raises on purpose derives from one root, so a caller (the demo, the
tests, the ``serve`` command) can tell our failures from bugs with one ``except``::

    InceptionSvmServingError
    ├── ConfigError          bad flags or config files: reported at startup, exit code 2
    ├── ServerStartError     a server child process exited or never got ready (also a
    │                        RuntimeError, which callers caught before the tree existed)
    ├── HttpBodyError        a REST body that cannot be read (400, 413); answered before routing
    └── ServingError         a request failure with a ``Code`` (gRPC status + HTTP status)
        ├── InvalidArgument
        ├── NotFound
        ├── Unavailable
        ├── ResourceExhausted
        ├── Unimplemented
        ├── FailedPrecondition
        ├── DataLoss         a warmup file that is not TFRecord (fails a model load)
        └── Internal

Every layer below the protocol raises ``ServingError`` subclasses; the gRPC wrapper
(``protocol/grpc/servicer.py``) and the REST handler (``protocol/rest/routes.py``) convert them
exactly once, so gRPC and REST always agree on the status of a failure. This module only
describes failures: the request metrics are recorded at those two boundaries
(``protocol/_outcome.py``). API misuse inside the package (calling ``wait_ready()`` before
``start()``) stays a plain ``RuntimeError``/``ValueError``: it is a bug, not a failure to
report. ``tests/serving/test_exceptions.py`` pins this tree.
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
    DATA_LOSS = (grpc.StatusCode.DATA_LOSS, HTTPStatus.INTERNAL_SERVER_ERROR)

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return self.value[0]

    @property
    def http_status(self) -> HTTPStatus:
        return self.value[1]


class InceptionSvmServingError(Exception):
    """The root: one ``except`` for every failure the package reports on purpose."""


class ServingError(InceptionSvmServingError):
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


class DataLoss(ServingError):
    code = Code.DATA_LOSS


class Internal(ServingError):
    code = Code.INTERNAL


class ConfigError(InceptionSvmServingError):
    """Bad flags or config files: reported at startup, exit code 2, never at request time."""


class ServerStartError(InceptionSvmServingError, RuntimeError):
    """The server exited, or did not report its models AVAILABLE before the deadline."""


class HttpBodyError(InceptionSvmServingError):
    """A REST request body that cannot be read: the connection is answered with ``status``
    and closed before any routing, so the status is an HTTP one and has no ``Code``."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def as_serving_error(error: BaseException) -> ServingError:
    """Unexpected exceptions become INTERNAL so the server never dies on a request."""
    if isinstance(error, ServingError):
        return error
    return Internal(f"{type(error).__name__}: {error}")
