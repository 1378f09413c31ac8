"""Every exception the thin client raises, in one tree, and the one place gRPC errors are
converted into it.

Callers catch ``ClientError``; its ``code`` (an ``ErrorCode``, the one status table) says
what went wrong, the subclass says which part of the client refused. ::

    Exception
    └── ClientError                        code + details; str() is "CODE: details"
        ├── SignatureMismatchError         SIGNATURE_MISMATCH: the signature cannot feed the SVM
        ├── WrongPortError                 WRONG_PORT: the address speaks HTTP/1.x
        ├── BudgetExhaustedError           RETRY_BUDGET_EXHAUSTED, with the outage's first cause
        ├── InterruptedCall                INTERRUPTED: cut short before the server answered
        ├── VerifyAborted                  the server could not be asked (the wrapped error's code)
        ├── WireError (+ ValueError)       BAD_RESPONSE: a message that breaks the TF Serving API
        │   └── MissingSignatureError      a well-formed reply without the asked signature
        └── ConfigError                    INVALID_CONFIG; str() is the message alone
            ├── SettingError (+ ValueError) a config field's value, worded per front end
            ├── GoldenError                a golden file that cannot be found, read or trusted
            ├── TrainingDataError          a training set that cannot be used
            ├── ResumeError                an output file that cannot be resumed from
            └── FileRefused                a file a flag names: refused to read or write

``WireError`` and ``SettingError`` keep ``ValueError`` as a second base because callers
outside the client catch them as such: the serving package decodes GetModelStatus replies
with ``wire`` under ``except ValueError``, and the exporter validates its config the same
way (a dataclass refusing a value raises ValueError by Python's convention).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from string import Formatter
from typing import TYPE_CHECKING

# grpc is imported where an RpcError is converted (it is loaded by then): config and the
# CLI import this module, and must not pay for gRPC.
if TYPE_CHECKING:
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


class WrongPortError(ClientError):
    """The address answers HTTP/1.x: most likely TF Serving's REST port, not its gRPC one."""

    def __init__(self, details: str) -> None:
        super().__init__(
            ErrorCode.WRONG_PORT,
            f"{details} (this address speaks HTTP/1.x: is it the REST port? TF Serving's gRPC "
            "port is --port, 8500 by default; REST is --rest_api_port, 8501)",
        )


class BudgetExhaustedError(ClientError):
    """Retries ran out of time; ``cause`` is the first failure of the outage (the useful
    diagnostic: "connection refused" says more than the DEADLINE_EXCEEDED of a later
    wait-for-ready attempt)."""

    def __init__(self, budget_s: float, cause: ClientError) -> None:
        super().__init__(
            ErrorCode.RETRY_BUDGET_EXHAUSTED,
            f"retry budget of {budget_s:g} s exhausted; first failure {cause.code}: "
            f"{cause.details}",
        )
        self.cause = cause


class InterruptedCall(ClientError):
    """A stop was requested while the call waited: it has no outcome from the server."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.INTERRUPTED, "interrupted before the server answered")


class VerifyAborted(ClientError):
    """The server could not be asked, so no further check can run; carries the client
    error that said so (its code and details are this error's)."""

    def __init__(self, error: ClientError) -> None:
        super().__init__(error.code, error.details, oversize=error.oversize)
        self.error = error


class WireError(ClientError, ValueError):
    """A message that does not hold what the TF Serving API promises; ``str()`` is the
    message alone, which callers prefix with the call that got it."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.BAD_RESPONSE, message)
        self.args = (message,)

    def __str__(self) -> str:
        return self.details


class MissingSignatureError(WireError):
    """A well-formed metadata reply without the asked signature: the model is the wrong one
    for this client, as opposed to a reply that cannot be decoded at all."""


class ConfigError(ClientError):
    """A setting, or a file a setting names, that cannot be used: no retry fixes it.

    ``str()`` is the message alone: the front ends print it after their own "error:"."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_CONFIG, message)
        self.args = (message,)

    def __str__(self) -> str:
        return self.details


class SettingError(ConfigError, ValueError):
    """A config value that cannot be used, told by the field that holds it, so each front
    end can name it its way.

    A config dataclass is used from Python (where the setting is the field ``duration_s``)
    and from the CLI (where it is the flag ``--duration``). The dataclass words its error
    with field names only; a front end renames them through one table of its own (the
    CLI's is in ``commands/options.py``), so neither wording leaks into the other.

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


class GoldenError(ConfigError):
    """A golden file that cannot be found, read or trusted."""


class TrainingDataError(ConfigError):
    """The training set cannot be used; the message lists every problem found."""


class ResumeError(ConfigError):
    """The output file cannot be resumed from (not our jsonl records)."""


class FileRefused(ConfigError):
    """A file a flag names that is not read or written: not a regular file, a symbolic
    link, over its size limit, one of the inputs, locked by another run, unwritable."""


def worded(error: ValueError, names: Mapping[str, str]) -> str:
    """Any ValueError's message, a SettingError's with its fields renamed by ``names``: what
    a front end prints for a config it refused."""
    return error.worded(names) if isinstance(error, SettingError) else str(error)


def _call_status(error: grpc.RpcError, field: str) -> object:
    """``code()``/``details()`` of a failed call: a ``grpc.Call`` from the sync API, an
    ``AioRpcError`` (which is no ``grpc.Call``) from ``grpc.aio``."""
    import grpc

    if isinstance(error, grpc.Call | grpc.aio.AioRpcError):
        return getattr(error, field)()
    return None


def status_code(error: grpc.RpcError) -> grpc.StatusCode:
    import grpc

    code = _call_status(error, "code")
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def status_details(error: grpc.RpcError) -> str:
    details = _call_status(error, "details")
    return details if isinstance(details, str) and details else str(error)


# What gRPC's HTTP/2 parser says when the address speaks HTTP/1.x (e.g. the REST port):
# an HTTP/1.1 response starts "HTTP/1.1 ...", whose first byte "H" (72) or "O" (79, of a
# bare "OK"...) is read as a frame type.
_HTTP1_MARKERS = ("http1.x", "HTTP/1", "Failed parsing HTTP/2", "Expected SETTINGS frame")
# gRPC's own wording for a message over max_(send|receive)_message_length, on either side.
_OVERSIZE_MARKER = "larger than max"
_TLS_HANDSHAKE_MARKER = "handshake failed"


def _from_wording(status: grpc.StatusCode, details: str) -> ClientError | None:
    """The three failures gRPC tells apart only in its message text: no status, trailer or
    typed field distinguishes them (an oversize message is RESOURCE_EXHAUSTED like a full
    queue, an HTTP/1 peer and a failed TLS handshake are UNAVAILABLE like a down server)."""
    import grpc

    if status == grpc.StatusCode.RESOURCE_EXHAUSTED:
        oversize = _OVERSIZE_MARKER in details
        return ClientError(ErrorCode.RESOURCE_EXHAUSTED, details, oversize=oversize)
    if any(marker in details for marker in _HTTP1_MARKERS):
        return WrongPortError(details)
    if _TLS_HANDSHAKE_MARKER in details.lower():
        return ClientError(
            ErrorCode.TLS_HANDSHAKE_FAILED,
            f"{details} (check --tls-ca, --tls-cert/--tls-key and --tls-server-name)",
        )
    return None


def from_rpc_error(error: grpc.RpcError, what: str) -> ClientError:
    """Convert once, at the gRPC boundary, naming the call that failed.

    Two UNAVAILABLE causes are configuration errors that no retry fixes, so they get codes
    of their own (and are not retried): an HTTP/1.x peer and a failed TLS handshake. A
    RESOURCE_EXHAUSTED is marked ``oversize`` here, so retry and split decisions branch on
    the flag, never on the text."""
    status = status_code(error)
    details = f"{what}: {status_details(error)}"
    return _from_wording(status, details) or ClientError(ErrorCode.from_status(status), details)
