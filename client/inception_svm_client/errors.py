"""The one exception callers of the thin client catch, and the single place gRPC errors
are converted into it."""

from __future__ import annotations

import grpc

# The server answered, but not with the logits the request asked for.
BAD_RESPONSE = "BAD_RESPONSE"
# The response came from another model version than the one the SVM was trained on.
MODEL_VERSION_MISMATCH = "MODEL_VERSION_MISMATCH"
# Retries ran out of time: the input was not classified (or never sent).
RETRY_BUDGET_EXHAUSTED = "RETRY_BUDGET_EXHAUSTED"
# The file could not be read (missing, not a regular file, empty, over the size limit).
UNREADABLE = "UNREADABLE"
# The TLS handshake failed: wrong CA, missing or rejected client certificate, wrong name.
TLS_HANDSHAKE_FAILED = "TLS_HANDSHAKE_FAILED"
# What gRPC's HTTP/2 parser says when the address speaks HTTP/1.x (e.g. the REST port):
# an HTTP/1.1 response starts "HTTP/1.1 ...", whose first byte "H" (72) or "O" (79, of a
# bare "OK"...) is read as a frame type.
_HTTP1_MARKERS = ("http1.x", "HTTP/1", "Failed parsing HTTP/2", "Expected SETTINGS frame")


class ClientError(Exception):
    """A request that could not be completed, with the gRPC status when one applies.

    ``code`` is a ``grpc.StatusCode`` name (``"UNAVAILABLE"``, ...) or a client-side
    reason (``"SIGNATURE_MISMATCH"``, ``"INVALID_SVM"``, ...), so callers can branch on a
    string without importing grpc.
    """

    def __init__(self, code: str, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details


class SignatureMismatchError(ClientError):
    """The served signature cannot feed the SVM (wrong dtype, shape or feature dimension)."""

    def __init__(self, details: str) -> None:
        super().__init__("SIGNATURE_MISMATCH", details)


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
            "WRONG_PORT",
            f"{details} (this address speaks HTTP/1.x: is it the REST port? TF Serving's gRPC "
            "port is --port, 8500 by default; REST is --rest_api_port, 8501)",
        )


def from_rpc_error(error: grpc.RpcError, what: str) -> ClientError:
    """Convert once, at the gRPC boundary, naming the call that failed.

    Two UNAVAILABLE causes are configuration errors that no retry fixes, so they get codes
    of their own (and are not retried): an HTTP/1.x peer and a failed TLS handshake."""
    details = f"{what}: {status_details(error)}"
    if speaks_http1(details):
        return WrongPortError(details)
    if "handshake failed" in details.lower():
        return ClientError(
            TLS_HANDSHAKE_FAILED,
            f"{details} (check --tls-ca, --tls-cert/--tls-key and --tls-server-name)",
        )
    return ClientError(status_code(error).name, details)
