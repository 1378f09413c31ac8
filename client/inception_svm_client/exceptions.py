"""The one exception callers of the thin client catch, and the single place gRPC errors
are converted into it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from string import Formatter

import grpc


class ErrorCode(enum.StrEnum):
    """Every code a ``ClientError`` (and so a classify record's ``status``) can carry.

    A ``StrEnum`` so that records, reports and callers comparing with plain strings see the
    same text as before: the gRPC status names, then the client's own reasons."""

    # gRPC status codes, by name (``from_status`` maps them one to one).
    OK = "OK"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    INTERNAL = "INTERNAL"
    UNAVAILABLE = "UNAVAILABLE"
    DATA_LOSS = "DATA_LOSS"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    # The server answered, but not with a response the client can decode into what it
    # asked for (Predict or GetModelMetadata alike).
    BAD_RESPONSE = "BAD_RESPONSE"
    # The served signature cannot feed the SVM (missing, wrong dtype, shape or dimension).
    SIGNATURE_MISMATCH = "SIGNATURE_MISMATCH"
    # The response came from another model version than the one the SVM was trained on.
    MODEL_VERSION_MISMATCH = "MODEL_VERSION_MISMATCH"
    # Retries ran out of time: the input was not classified (or never sent).
    RETRY_BUDGET_EXHAUSTED = "RETRY_BUDGET_EXHAUSTED"
    # A call cut short by an interrupt: it has no outcome from the server.
    INTERRUPTED = "INTERRUPTED"
    # The file could not be read (missing, not a regular file, empty, over the size limit).
    UNREADABLE = "UNREADABLE"
    # The TLS handshake failed: wrong CA, missing or rejected client certificate, wrong name.
    TLS_HANDSHAKE_FAILED = "TLS_HANDSHAKE_FAILED"
    # The address speaks HTTP/1.x (most likely the REST port), not gRPC.
    WRONG_PORT = "WRONG_PORT"
    # A setting or a file it names is unusable; no retry can fix it.
    INVALID_CONFIG = "INVALID_CONFIG"
    # The SVM file is missing, unreadable, not ONNX, or lacks our metadata.
    INVALID_SVM = "INVALID_SVM"
    # The server's Prometheus endpoint could not be read (loadtest --metrics-url).
    METRICS_UNAVAILABLE = "METRICS_UNAVAILABLE"

    @classmethod
    def from_status(cls, status: grpc.StatusCode) -> ErrorCode:
        """The one mapping from a gRPC status to a client code."""
        return cls[status.name]


# Kept as module names because callers import them; the enum is the one definition.
BAD_RESPONSE = ErrorCode.BAD_RESPONSE
MODEL_VERSION_MISMATCH = ErrorCode.MODEL_VERSION_MISMATCH
RETRY_BUDGET_EXHAUSTED = ErrorCode.RETRY_BUDGET_EXHAUSTED
UNREADABLE = ErrorCode.UNREADABLE
TLS_HANDSHAKE_FAILED = ErrorCode.TLS_HANDSHAKE_FAILED
# What gRPC's HTTP/2 parser says when the address speaks HTTP/1.x (e.g. the REST port):
# an HTTP/1.1 response starts "HTTP/1.1 ...", whose first byte "H" (72) or "O" (79, of a
# bare "OK"...) is read as a frame type.
_HTTP1_MARKERS = ("http1.x", "HTTP/1", "Failed parsing HTTP/2", "Expected SETTINGS frame")
# gRPC's own wording for a message over max_(send|receive)_message_length, on either side;
# the server's limit is not visible to the client, so for its refusal this is all there is.
_OVERSIZE_MARKER = "larger than max"


class ClientError(Exception):
    """A request that could not be completed, with the gRPC status when one applies.

    ``code`` is an ``ErrorCode``: a ``grpc.StatusCode`` name (``"UNAVAILABLE"``, ...) or a
    client-side reason (``"SIGNATURE_MISMATCH"``, ...); a ``str`` too, so callers can branch
    on it without importing grpc. ``oversize`` marks a RESOURCE_EXHAUSTED that is a message
    over a size limit (split the batch) rather than a full server queue (retry later).
    """

    def __init__(self, code: ErrorCode, details: str, *, oversize: bool = False) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details
        self.oversize = oversize


class SignatureMismatchError(ClientError):
    """The served signature cannot feed the SVM (wrong dtype, shape or feature dimension)."""

    def __init__(self, details: str) -> None:
        super().__init__(ErrorCode.SIGNATURE_MISMATCH, details)


def _call_status(error: grpc.RpcError, field: str) -> object:
    """``code()``/``details()`` of a failed call: a ``grpc.Call`` from the sync API, an
    ``AioRpcError`` (which is no ``grpc.Call``) from ``grpc.aio``."""
    if isinstance(error, grpc.Call | grpc.aio.AioRpcError):
        return getattr(error, field)()
    return None


def status_code(error: grpc.RpcError) -> grpc.StatusCode:
    code = _call_status(error, "code")
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def status_details(error: grpc.RpcError) -> str:
    details = _call_status(error, "details")
    return details if isinstance(details, str) and details else str(error)


def speaks_http1(details: str) -> bool:
    return any(marker in details for marker in _HTTP1_MARKERS)


class WrongPortError(ClientError):
    """The address answers HTTP/1.x: most likely TF Serving's REST port, not its gRPC one."""

    def __init__(self, details: str) -> None:
        super().__init__(
            ErrorCode.WRONG_PORT,
            f"{details} (this address speaks HTTP/1.x: is it the REST port? TF Serving's gRPC "
            "port is --port, 8500 by default; REST is --rest_api_port, 8501)",
        )


def from_rpc_error(error: grpc.RpcError, what: str) -> ClientError:
    """Convert once, at the gRPC boundary, naming the call that failed.

    Two UNAVAILABLE causes are configuration errors that no retry fixes, so they get codes
    of their own (and are not retried): an HTTP/1.x peer and a failed TLS handshake. A
    RESOURCE_EXHAUSTED is marked ``oversize`` here, the one place gRPC's wording is read,
    so retry and split decisions branch on the flag."""
    status = status_code(error)
    details = f"{what}: {status_details(error)}"
    if status == grpc.StatusCode.RESOURCE_EXHAUSTED:
        oversize = _OVERSIZE_MARKER in details
        return ClientError(ErrorCode.RESOURCE_EXHAUSTED, details, oversize=oversize)
    if speaks_http1(details):
        return WrongPortError(details)
    if "handshake failed" in details.lower():
        return ClientError(
            TLS_HANDSHAKE_FAILED,
            f"{details} (check --tls-ca, --tls-cert/--tls-key and --tls-server-name)",
        )
    return ClientError(ErrorCode.from_status(status), details)


class SettingError(ValueError):
    """A config value that cannot be used; ``str()`` names the fields.

    ``template`` is a ``str.format`` pattern: ``{name}`` is filled from ``values`` (what the
    caller gave, never parsed as a pattern itself), any other ``{field}`` is a setting, named
    by ``worded``. ``fields`` lists those settings in order of mention."""

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = values
        self.fields = tuple(
            name for _, name, _, _ in Formatter().parse(template) if name and name not in values
        )
        super().__init__(self.worded({}))

    def worded(self, names: Mapping[str, str]) -> str:
        """The message with each field renamed by ``names`` (kept as is when absent)."""
        return self.template.format(
            **{field: names.get(field, field) for field in self.fields}, **self.values
        )


def worded(error: ValueError, names: Mapping[str, str]) -> str:
    """Any ValueError's message, a SettingError's with its fields renamed by ``names``: what
    a front end prints for a config it refused."""
    return error.worded(names) if isinstance(error, SettingError) else str(error)
