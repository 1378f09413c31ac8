"""A localhost TCP proxy that can break the network on command.

gRPC hides most network faults behind reconnects, so the only honest way to prove the
client survives a dropped connection is to actually drop one under it: this proxy sits
between client and server, forwards bytes verbatim, and can reset every live connection
(``cut_all``) or turn away new ones for a while (``refuse``). Every thread polls with a
short timeout, so ``close`` always returns promptly.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from types import TracebackType

_POLL_S = 0.05
_CHUNK = 64 * 1024


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: what a crashed peer or a dropped NAT entry looks like."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(_POLL_S)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._refusing = False
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections_cut = 0
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut_all(self) -> int:
        """Reset every live connection; return how many pairs were cut."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
            self.connections_cut += len(pairs)
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)
        return len(pairs)

    def refuse(self, refusing: bool) -> None:
        """While refusing, new connections are reset as soon as they are accepted."""
        with self._lock:
            self._refusing = refusing

    def close(self) -> None:
        self._stopped.set()
        self._acceptor.join(timeout=5)
        self.cut_all()
        with contextlib.suppress(OSError):
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                refusing = self._refusing
            if refusing:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=2)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                readable, _, _ = select.select([source], [], [], _POLL_S)
                if not readable:
                    continue
                data = source.recv(_CHUNK)
                if not data:
                    break
                sink.sendall(data)
            except (OSError, ValueError):
                break
        self._forget(source, sink)

    def _forget(self, source: socket.socket, sink: socket.socket) -> None:
        with self._lock:
            self._pairs = [pair for pair in self._pairs if source not in pair]
        _reset(source)
        _reset(sink)
