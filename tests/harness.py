"""One harness for every test that needs a real model server process.

Tests talk to a real ``python -m inception_svm_serving`` subprocess on free localhost ports,
exactly as clients talk to tensorflow_model_server in production, so what they prove holds for
the wire protocol and not just for in-process calls. The process runs in its own process group
and is always killed on exit, even when the test fails.

Readiness is gRPC health SERVING. With ``--ssl_config_file`` the health check needs TLS: pass
``tls=grpc.ssl_channel_credentials(...)`` (a client certificate too for mutual TLS); without
it the harness waits for the server's own ``serving`` log event, which is emitted at the
moment health turns SERVING.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from inception_svm_client import contract
from inception_svm_serving.launch import flag_name, merge_flags
from inception_svm_serving.server_config import load_monitoring_config
from tests.paths import REPO_ROOT, SERVING_DIR

MONITORING_CONFIG = SERVING_DIR / "monitoring.config"
BATCHING_PARAMETERS = SERVING_DIR / "batching_parameters.txt"
# What a deployment runs with: requests of up to 64 images split into execution batches of
# 8, bounded queue (serving/batching_parameters.txt).
PRODUCTION_BATCHING_FLAGS = (
    "--enable_batching=true",
    f"--batching_parameters_file={BATCHING_PARAMETERS}",
)
MODEL_NAME = contract.MODEL_NAME
METRICS_PATH = load_monitoring_config(MONITORING_CONFIG).prometheus_path
_LOG_TAIL_CHARS = 4000
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServerHandle:
    """Where a started server listens, plus its log for failure messages."""

    grpc_target: str
    rest_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def metrics_text(self) -> str:
        with urllib.request.urlopen(self.rest_url + METRICS_PATH, timeout=10) as response:
            body: bytes = response.read()
        return body.decode("utf-8")

    def log_tail(self) -> str:
        return log_tail(self.log_path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_pair() -> tuple[int, int]:
    """Two distinct free localhost ports: gRPC and REST."""
    grpc_port, rest_port = free_port(), free_port()
    while rest_port == grpc_port:
        rest_port = free_port()
    return grpc_port, rest_port


def subprocess_env(bind_host: str = "127.0.0.1") -> dict[str, str]:
    """The environment of every process the tests start (servers, CLIs); ``bind_host`` is
    a loopback address (127.0.0.0/8): tests never listen beyond localhost."""
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
        "INCEPTION_SVM_BIND_HOST": bind_host,
    }


def log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
    except OSError:
        return "<no log>"


def _die_with_parent() -> None:
    """Runs in the child: SIGTERM it when the test process dies, even by SIGKILL or timeout,
    so an interrupted test run never leaves a server (~0.9 GB) behind."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def server_command(
    grpc_port: int,
    rest_port: int,
    model_base_path: Path | None,
    model_config_file: Path | None,
    extra_flags: Sequence[str],
) -> list[str]:
    """TF Serving flags for the stand-in; ``extra_flags`` win over the harness defaults."""
    flags = [f"--port={grpc_port}", f"--rest_api_port={rest_port}"]
    if model_config_file is not None:
        flags.append(f"--model_config_file={model_config_file}")
    elif model_base_path is not None:
        flags += [f"--model_name={MODEL_NAME}", f"--model_base_path={model_base_path}"]
    flags += [
        f"--monitoring_config_file={MONITORING_CONFIG}",
        "--enable_grpc_healthcheck_service=true",
    ]
    return [sys.executable, "-m", "inception_svm_serving", *merge_flags(flags, extra_flags)]


def spawn_server(
    command: Sequence[str],
    log_path: Path,
    *,
    die_with_parent: bool = True,
    bind_host: str = "127.0.0.1",
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own process group, appending its output to ``log_path``.

    With ``die_with_parent`` it is SIGTERMed when the spawning *thread* ends (that is what
    Linux's PR_SET_PDEATHSIG tracks), which on the main thread means the test process: pass
    False when spawning from a thread that ends before the server should.
    """
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=subprocess_env(bind_host),
            cwd=REPO_ROOT,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )


def wait_until_serving(
    process: subprocess.Popen[bytes],
    is_serving: Callable[[], bool],
    log_path: Path,
    timeout_s: float,
) -> None:
    """Poll ``is_serving``; RuntimeError with the log tail when the process exits or
    ``timeout_s`` passes first."""
    deadline = time.monotonic() + timeout_s
    while not is_serving():
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with code {process.returncode} before SERVING; "
                f"command: {process.args!r}\nlog tail:\n{log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"server not SERVING after {timeout_s:.0f} s\nlog tail:\n{log_tail(log_path)}"
            )
        time.sleep(0.1)


def health_serving(
    target: str, tls: grpc.ChannelCredentials | None = None, timeout_s: float = 2
) -> bool:
    """Whether gRPC health (service "") answers SERVING."""
    channel = grpc.insecure_channel(target) if tls is None else grpc.secure_channel(target, tls)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _logged_serving(log_path: Path) -> bool:
    """The stand-in's JSON-lines ``serving`` event: readiness when the test holds no TLS
    credentials for the health check."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return False
    for line in lines:
        if '"serving"' in line:
            with contextlib.suppress(ValueError):
                if json.loads(line).get("event") == "serving":
                    return True
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def running_server(
    model_base_path: Path | None = None,
    *,
    model_config_file: Path | None = None,
    extra_flags: Sequence[str] = (),
    startup_timeout_s: float = 120,
    tls: grpc.ChannelCredentials | None = None,
    bind_host: str = "127.0.0.1",
    grpc_port: int | None = None,
) -> Iterator[ServerHandle]:
    """Start the stand-in, wait for gRPC health SERVING, yield it, kill it on exit.

    ``tls``: channel credentials for the health check of a server started with
    ``--ssl_config_file``. ``bind_host`` (another loopback address) and ``grpc_port`` let
    several servers stand behind one name and port, as pods behind a headless Service.
    Raises RuntimeError with the server log tail when the process exits
    or is not SERVING within ``startup_timeout_s``.
    """
    free_grpc_port, rest_port = free_port_pair()
    grpc_port = grpc_port or free_grpc_port
    command = server_command(grpc_port, rest_port, model_base_path, model_config_file, extra_flags)
    log_path = Path(tempfile.mkdtemp(prefix="inception-svm-server-")) / "server.log"
    process = spawn_server(command, log_path, bind_host=bind_host)
    handle = ServerHandle(
        grpc_target=f"{bind_host}:{grpc_port}",
        rest_url=f"http://{bind_host}:{rest_port}",
        process=process,
        log_path=log_path,
    )
    uses_tls = any(flag_name(flag) == "--ssl_config_file" for flag in extra_flags)

    def is_serving() -> bool:
        if uses_tls and tls is None:
            return _logged_serving(log_path)
        return health_serving(handle.grpc_target, tls)

    try:
        wait_until_serving(process, is_serving, log_path, startup_timeout_s)
        yield handle
    finally:
        _stop(process)
