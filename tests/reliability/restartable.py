"""A model server that can be SIGKILLed and brought back on the *same* ports.

``tests.harness.running_server`` picks fresh ports on every start, which is right for
isolation but hides the production case this module exists for: a pod restarts behind a
stable address and clients must reconnect to it on their own. The command line, the
environment and the readiness check come from the harness, so both start the server
identically.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.harness import (
    free_port_pair,
    health_serving,
    server_command,
    spawn_server,
    wait_until_serving,
)


class RestartableServer:
    def __init__(self, model_base_path: Path, extra_flags: Sequence[str] = ()) -> None:
        grpc_port, rest_port = free_port_pair()
        self.grpc_target = f"127.0.0.1:{grpc_port}"
        self._command = server_command(grpc_port, rest_port, model_base_path, None, extra_flags)
        self.log_path = Path(tempfile.mkdtemp(prefix="inception-svm-restartable-")) / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Launch without waiting: callers decide whether to wait (or to race the startup).

        Restarts run on helper threads that end while the server must live on, so the server
        is not tied to its spawning thread; ``restartable_server`` kills it on exit."""
        self.process = spawn_server(self._command, self.log_path, die_with_parent=False)
        self.starts += 1

    def wait_serving(self, timeout_s: float = 120) -> None:
        """Block until gRPC health says SERVING."""
        if self.process is None:
            raise RuntimeError("wait_serving() before start()")
        wait_until_serving(
            self.process, lambda: health_serving(self.grpc_target), self.log_path, timeout_s
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: no graceful drain, like an OOM kill or node loss."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)


@contextlib.contextmanager
def restartable_server(
    model_base_path: Path, extra_flags: Sequence[str] = ()
) -> Iterator[RestartableServer]:
    server = RestartableServer(model_base_path, extra_flags)
    try:
        yield server
    finally:
        server.kill()
