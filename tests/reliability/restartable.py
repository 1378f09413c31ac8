"""A model server that can be SIGKILLed and brought back on the *same* ports.

``tests.harness.running_server`` picks fresh ports on every start, which is right for
isolation but hides the production case this module exists for: a pod restarts behind a
stable address and clients must reconnect to it on their own. The command line comes from
the harness, so both start the server identically.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.harness import REPO_ROOT, free_port, server_command
from tests.reliability.serving_calls import is_serving


class RestartableServer:
    def __init__(self, model_base_path: Path, extra_flags: Sequence[str] = ()) -> None:
        self.grpc_port = free_port()
        self.rest_port = free_port()
        while self.rest_port == self.grpc_port:
            self.rest_port = free_port()
        self._command = server_command(
            self.grpc_port, self.rest_port, model_base_path, None, extra_flags
        )
        self.log_path = Path(tempfile.mkdtemp(prefix="inception-svm-restartable-")) / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> None:
        """Launch without waiting: callers decide whether to wait (or to race the startup)."""
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        self.starts += 1

    def wait_serving(self, timeout_s: float = 120) -> float:
        """Block until gRPC health says SERVING; return the seconds it took."""
        began = time.monotonic()
        while not is_serving(self.grpc_target):
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"server exited before SERVING:\n{self.log_tail()}")
            if time.monotonic() - began > timeout_s:
                raise RuntimeError(f"server not SERVING after {timeout_s} s:\n{self.log_tail()}")
            time.sleep(0.1)
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL the whole process group: no graceful drain, like an OOM kill or node loss."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"


@contextlib.contextmanager
def restartable_server(
    model_base_path: Path, extra_flags: Sequence[str] = ()
) -> Iterator[RestartableServer]:
    server = RestartableServer(model_base_path, extra_flags)
    try:
        yield server
    finally:
        server.kill()
