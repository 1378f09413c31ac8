"""The one exception callers of the thin client catch, and the single place gRPC errors
are converted into it."""

from __future__ import annotations

import grpc

# The server answered, but not with the logits the request asked for.
BAD_RESPONSE = "BAD_RESPONSE"


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


def status_code(error: grpc.RpcError) -> grpc.StatusCode:
    code = error.code() if isinstance(error, grpc.Call) else None
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def status_details(error: grpc.RpcError) -> str:
    details = error.details() if isinstance(error, grpc.Call) else None
    return details or str(error)


def from_rpc_error(error: grpc.RpcError, what: str) -> ClientError:
    """Convert once, at the gRPC boundary, naming the call that failed."""
    return ClientError(status_code(error).name, f"{what}: {status_details(error)}")
