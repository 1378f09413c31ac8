"""The REST port's HTTP/1.1 plumbing (stdlib ``http.server``), with every abuse limit in one
place; routing lives in routes.py, JSON in _json_codec.py.

- Body: read only up to a valid ``Content-Length`` (digits only; a negative, non-numeric or
  conflicting one is 400) or a bounded ``Transfer-Encoding: chunked`` stream; no length means
  no body. Over ``MAX_BODY_BYTES`` is 413 without reading the body.
- Time: the request line and headers must arrive within ``HEADER_TIMEOUT_S`` of the
  connection being ready for a request, and every read waits at most ``IDLE_TIMEOUT_S``, so
  half-open or trickling connections are closed instead of holding a thread forever.
- Connections: at most ``MAX_CONNECTIONS`` at once; the next one gets 503 and is closed.
  A listen backlog of ``LISTEN_BACKLOG`` (the stdlib default is 5) absorbs bursts.
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
MAX_CONNECTIONS = 256
LISTEN_BACKLOG = 1024
_CONTENT_LENGTH = re.compile(r"^[0-9]{1,19}$")
_CHUNK_LINE_BYTES = 1024
_MAX_TRAILERS = 32


class Api(Protocol):
    def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]: ...


def _content_length(values: list[str]) -> int | None:
    if not values:
        return None
    if len(set(values)) != 1 or not _CONTENT_LENGTH.match(values[0].strip()):
        raise HttpBodyError(HTTPStatus.BAD_REQUEST, f"invalid Content-Length: {values!r}")
    return int(values[0].strip())


def _read_chunked(rfile: io.BufferedIOBase, limit: int) -> bytes:
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
                    return bytes(body)
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

    def handle_one_request(self) -> None:
        """The header deadline: a timer that shuts the socket down unless the request line
        and headers arrive in time (a per-read timeout alone lets a client trickle)."""
        deadline = threading.Timer(HEADER_TIMEOUT_S, self._expire)
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
        self._deadline.cancel()  # headers are in; the body has the per-read timeout
        try:
            body = self._read_body()
        except HttpBodyError as error:
            self.close_connection = True  # the rest of the stream cannot be trusted
            self._reply(int(error.status), "application/json", error_json(error.message))
            return
        self._reply(*self.api.handle(method, self.path, body))

    def _read_body(self) -> bytes:
        encoding = self.headers.get_all("Transfer-Encoding") or []
        length = _content_length(self.headers.get_all("Content-Length") or [])
        if encoding:
            if [e.strip().lower() for e in encoding] != ["chunked"] or length is not None:
                raise HttpBodyError(
                    HTTPStatus.BAD_REQUEST,
                    "only Transfer-Encoding: chunked, without Content-Length, is supported",
                )
            return _read_chunked(self.rfile, MAX_BODY_BYTES)
        if length is None or length == 0:
            return b""
        if length > MAX_BODY_BYTES:
            raise HttpBodyError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {length} bytes exceeds the limit of {MAX_BODY_BYTES}",
            )
        body = self.rfile.read(length)
        if len(body) != length:
            raise HttpBodyError(HTTPStatus.BAD_REQUEST, "request body shorter than Content-Length")
        return body

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


class _BoundedServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    allow_reuse_address = True  # TIME_WAIT only; SO_REUSEPORT stays off: one server per port

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        payload = error_json(f"too many connections (limit {MAX_CONNECTIONS}); retry later")
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
        self._server = _BoundedServer((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="rest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
