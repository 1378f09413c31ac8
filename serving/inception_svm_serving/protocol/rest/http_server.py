"""The REST port's HTTP/1.1 plumbing (stdlib ``http.server``), with every abuse limit in one
place; routing lives in routes.py, JSON in _json_codec.py.

- Body: read only up to a valid ``Content-Length`` (digits only; a negative, non-numeric or
  conflicting one is 400) or a bounded ``Transfer-Encoding: chunked`` stream; no length means
  no body. Over ``MAX_BODY_BYTES`` is 413 without reading the body.
- Time: the request line and headers must arrive within ``HEADER_TIMEOUT_S`` of the
  connection being ready for a request, and every read waits at most ``IDLE_TIMEOUT_S``, so
  half-open or trickling connections are closed instead of holding a thread forever. The
  body must arrive at ``BODY_MIN_BYTES_PER_S`` after a grace of ``BODY_TIMEOUT_S`` (Apache
  mod_reqtimeout's ``body=...,MinRate=...``; nginx's ``client_body_timeout`` bounds only the
  gap between reads, which a 1-byte-per-5-s sender never exceeds); a slower one is 408.
- Connections: at most ``MAX_CONNECTIONS`` at once. Past them, ``PROBE_CONNECTIONS`` more
  slots serve one GET each (no body, headers within ``PROBE_HEADER_TIMEOUT_S``): the
  liveness/readiness probes' ``GET /v1/models/NAME`` and the metrics scrape keep answering
  while slow or stuck clients hold every ordinary slot; anything else there is 503. Past
  both, 503 at once. A listen backlog of ``LISTEN_BACKLOG`` (the stdlib default is 5)
  absorbs bursts.
- Every client mistake is a 4xx with TF Serving's ``{"error": ...}`` body; connection
  errors are closed quietly and logged as one line, never as a traceback.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from inception_svm_serving._exceptions import HttpBodyError
from inception_svm_serving.config.options import DEFAULT_MAX_MESSAGE_BYTES
from inception_svm_serving.observability.logs import log_event
from inception_svm_serving.protocol.rest._json_codec import error_json

MAX_BODY_BYTES = DEFAULT_MAX_MESSAGE_BYTES  # the same cap as a gRPC message
HEADER_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 30.0
BODY_TIMEOUT_S = 10.0
BODY_MIN_BYTES_PER_S = 16 * 1024
MAX_CONNECTIONS = 256
PROBE_CONNECTIONS = 16
PROBE_HEADER_TIMEOUT_S = 2.0
_READ_BYTES = 256 * 1024
LISTEN_BACKLOG = 1024
_CONTENT_LENGTH = re.compile(r"^[0-9]{1,19}$")
_CHUNK_LINE_BYTES = 1024
_MAX_TRAILERS = 32


class Api(Protocol):
    def handle(self, method: str, path: str, body: bytes | bytearray) -> tuple[int, str, bytes]: ...


def _content_length(values: list[str]) -> int | None:
    if not values:
        return None
    if len(set(values)) != 1 or not _CONTENT_LENGTH.match(values[0].strip()):
        raise HttpBodyError(HTTPStatus.BAD_REQUEST, f"invalid Content-Length: {values!r}")
    return int(values[0].strip())


class _PacedReader:
    """Reads a body against a deadline that grows with the bytes received: ``BODY_TIMEOUT_S``
    plus one second per ``BODY_MIN_BYTES_PER_S`` bytes. Each socket read waits only until
    that deadline, so a sender cannot hold a connection by trickling."""

    def __init__(self, rfile: io.BufferedReader, sock: socket.socket) -> None:
        self._rfile = rfile
        self._sock = sock
        self._started = time.monotonic()
        self.received = 0

    def _arm(self) -> None:
        elapsed = time.monotonic() - self._started
        remaining = BODY_TIMEOUT_S + self.received / BODY_MIN_BYTES_PER_S - elapsed
        if remaining <= 0:
            raise self._too_slow(elapsed)
        self._sock.settimeout(min(remaining, IDLE_TIMEOUT_S))

    def _too_slow(self, elapsed: float) -> HttpBodyError:
        return HttpBodyError(
            HTTPStatus.REQUEST_TIMEOUT,
            f"request body too slow: {self.received} bytes in {elapsed:.0f} s; the server "
            f"needs {BODY_MIN_BYTES_PER_S} bytes/s after the first {BODY_TIMEOUT_S:.0f} s",
        )

    def _timed_out(self) -> HttpBodyError:
        return self._too_slow(time.monotonic() - self._started)

    def read(self, size: int) -> bytearray:
        """``size`` bytes, fewer only at end of stream. The body grows as bytes arrive: a
        Content-Length alone reserves nothing (256 connections each claiming 64 MiB and
        sending nothing must not cost 16 GiB)."""
        body = bytearray()
        chunk = bytearray(min(size, _READ_BYTES))
        view = memoryview(chunk)
        try:
            while len(body) < size:
                self._arm()
                try:
                    count = self._rfile.readinto1(view[: min(len(chunk), size - len(body))])
                except TimeoutError:
                    raise self._timed_out() from None
                if not count:
                    break
                body += view[:count]
                self.received += count
        finally:
            view.release()
        return body

    def readline(self, limit: int) -> bytes:
        line = bytearray()
        while len(line) < limit and not line.endswith(b"\n"):
            self._arm()
            try:
                ready = self._rfile.peek(1)[: limit - len(line)]
            except TimeoutError:
                raise self._timed_out() from None
            if not ready:
                break
            newline = ready.find(b"\n")
            taken = self._rfile.read(newline + 1 if newline >= 0 else len(ready))
            line += taken
            self.received += len(taken)
        return bytes(line)


def _read_chunked(rfile: _PacedReader, limit: int) -> bytearray:
    body = bytearray()
    while True:
        line = rfile.readline(_CHUNK_LINE_BYTES)
        size_text = line.split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            raise HttpBodyError(HTTPStatus.BAD_REQUEST, "malformed chunked body")
        size = int(size_text, 16)
        if size == 0:
            for _ in range(_MAX_TRAILERS):
                if rfile.readline(_CHUNK_LINE_BYTES) in (b"\r\n", b"\n", b""):
                    return body
            raise HttpBodyError(HTTPStatus.BAD_REQUEST, "too many trailer lines")
        if len(body) + size > limit:
            raise HttpBodyError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body exceeds {limit} bytes"
            )
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.readline(_CHUNK_LINE_BYTES) not in (b"\r\n", b"\n"):
            raise HttpBodyError(HTTPStatus.BAD_REQUEST, "truncated chunked body")
        body += chunk


class _Handler(BaseHTTPRequestHandler):
    api: Api
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S  # applied to the socket by StreamRequestHandler.setup
    header_timeout_s = HEADER_TIMEOUT_S

    def handle_one_request(self) -> None:
        """The header deadline: a timer that shuts the socket down unless the request line
        and headers arrive in time (a per-read timeout alone lets a client trickle)."""
        deadline = threading.Timer(self.header_timeout_s, self._expire)
        deadline.daemon = True
        self._deadline = deadline
        deadline.start()
        try:
            super().handle_one_request()
        finally:
            deadline.cancel()

    def _expire(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _serve(self, method: str) -> None:
        self._deadline.cancel()  # headers are in; the body has its own deadline
        try:
            body = self._read_body()
        except HttpBodyError as error:
            self.close_connection = True  # the rest of the stream cannot be trusted
            self.connection.settimeout(IDLE_TIMEOUT_S)
            self._reply(int(error.status), "application/json", error_json(error.message))
            return
        self.connection.settimeout(IDLE_TIMEOUT_S)
        self._reply(*self.api.handle(method, self.path, body))

    def _read_body(self) -> bytes | bytearray:
        encoding = self.headers.get_all("Transfer-Encoding") or []
        length = _content_length(self.headers.get_all("Content-Length") or [])
        if encoding:
            if [e.strip().lower() for e in encoding] != ["chunked"] or length is not None:
                raise HttpBodyError(
                    HTTPStatus.BAD_REQUEST,
                    "only Transfer-Encoding: chunked, without Content-Length, is supported",
                )
            return _read_chunked(self._paced(), MAX_BODY_BYTES)
        if length is None or length == 0:
            return b""
        if length > MAX_BODY_BYTES:
            raise HttpBodyError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {length} bytes exceeds the limit of {MAX_BODY_BYTES}",
            )
        body = self._paced().read(length)
        if len(body) != length:
            raise HttpBodyError(HTTPStatus.BAD_REQUEST, "request body shorter than Content-Length")
        return body

    def _paced(self) -> _PacedReader:
        assert isinstance(self.rfile, io.BufferedReader)  # rbufsize -1: always buffered
        return _PacedReader(self.rfile, self.connection)

    def _reply(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _method_not_allowed(self) -> None:
        self._deadline.cancel()
        self.close_connection = True
        message = f"method {self.command} is not supported; use GET or POST"
        self._reply(int(HTTPStatus.METHOD_NOT_ALLOWED), "application/json", error_json(message))

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _method_not_allowed

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs would be one unstructured line per request; metrics cover them."""


class _ProbeHandler(_Handler):
    """A connection past ``MAX_CONNECTIONS``: one bodiless GET (status, metadata, metrics),
    then closed; headers must come within ``PROBE_HEADER_TIMEOUT_S``."""

    header_timeout_s = PROBE_HEADER_TIMEOUT_S

    def _serve(self, method: str) -> None:
        self._deadline.cancel()
        self.close_connection = True
        has_body = self.headers.get("Transfer-Encoding") or self.headers.get(
            "Content-Length", "0"
        ).strip() not in ("", "0")
        if method != "GET" or has_body:
            self._reply(*_too_many_connections())
            return
        self._reply(*self.api.handle(method, self.path, b""))


def _too_many_connections() -> tuple[int, str, bytes]:
    message = f"too many connections (limit {MAX_CONNECTIONS}); retry later"
    return int(HTTPStatus.SERVICE_UNAVAILABLE), "application/json", error_json(message)


class _BoundedServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    allow_reuse_address = True  # TIME_WAIT only; SO_REUSEPORT stays off: one server per port

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], probe: type[_Handler]
    ) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._probe_slots = threading.BoundedSemaphore(PROBE_CONNECTIONS)
        self._probe_handler = probe
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._slots.acquire(blocking=False):
            slots, handler = self._slots, self.RequestHandlerClass
        elif self._probe_slots.acquire(blocking=False):
            slots, handler = self._probe_slots, self._probe_handler
        else:
            self._refuse(request)
            return
        thread = threading.Thread(
            target=self._connection,
            args=(request, client_address, handler, slots),
            name="rest-connection",
            daemon=True,
        )
        thread.start()

    def _connection(
        self,
        request: Any,
        client_address: Any,
        handler: Any,
        slots: threading.BoundedSemaphore,
    ) -> None:
        try:
            handler(request, client_address, self)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            slots.release()

    def _refuse(self, request: socket.socket) -> None:
        _, _, payload = _too_many_connections()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        try:
            request.settimeout(1.0)
            request.sendall(head.encode("ascii") + payload)
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (reset, timeout) is the client's business: one log line."""
        error = sys.exc_info()[1]
        log_event("rest_connection_error", client=str(client_address[0]), error=repr(error))


class RestServer:
    def __init__(self, host: str, port: int, api: Api) -> None:
        handler = type("RestHandler", (_Handler,), {"api": api})
        probe = type("RestProbeHandler", (_ProbeHandler,), {"api": api})
        self._server = _BoundedServer((host, port), handler, probe)
        self._thread = threading.Thread(target=self._server.serve_forever, name="rest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
