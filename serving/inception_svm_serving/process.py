"""A model server as a child process: start it on free ports, know when it is ready, stop it.

The demo and the tests need the same things from a server they start themselves, and the
real ``tensorflow_model_server`` must do for the stand-in, so everything here goes through
what both offer: the command line (flags in ``--name=value`` form), a log file, and
readiness asked of the server itself over gRPC — ``ModelService/GetModelStatus`` reporting a
version AVAILABLE for every model it was told to serve, which TF Serving reports only once
the version is loaded and its warmup replayed. A server started with ``--ssl_config_file``
is asked over TLS, trusting the certificate in that file (a client certificate must be given
when the file sets ``client_verify``). No log is scraped for readiness.

The process runs in its own process group (its children go with it), optionally dies with
its parent, and a failed start raises ``ServerStartError`` naming the exit code or the last
status and the log tail, after at most the deadline.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from inception_svm_client.config import ChannelConfig, ModelTarget, TlsConfig
from inception_svm_client.grpc import wire
from inception_svm_client.grpc.channel import create_channel
from inception_svm_client.protos.messages import GET_MODEL_STATUS_METHOD
from inception_svm_serving._exceptions import ServerStartError
from inception_svm_serving.config.options import load_model_config_file, load_ssl_config
from inception_svm_serving.launch import REAL_SERVER, local_command, merge_flags

LOCALHOST = "127.0.0.1"
TF_SERVING_DEFAULT_MODEL_NAME = "default"  # tensorflow_model_server's --model_name default
DEFAULT_READY_TIMEOUT_S = 120.0
DEFAULT_STOP_GRACE_S = 15.0  # the stand-in drains for 5 s after SIGTERM (server.py)
_POLL_INTERVAL_S = 0.2
_STATUS_CALL_TIMEOUT_S = 2.0
_KILLED_EXIT_S = 30.0
_LOG_TAIL_CHARS = 4000
START_FAILURE_PREFIX = "Failed to start server. Error: "


def free_port(host: str = LOCALHOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_pair(host: str = LOCALHOST) -> tuple[int, int]:
    """Two distinct free ports: gRPC and REST."""
    grpc_port, rest_port = free_port(host), free_port(host)
    while rest_port == grpc_port:
        rest_port = free_port(host)
    return grpc_port, rest_port


def log_tail(path: Path, chars: int = _LOG_TAIL_CHARS) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "<no log>"


def start_failure_line(path: Path) -> str:
    """The server's own reason for exiting at startup: the last line of the form both
    tensorflow_model_server and the stand-in print (main.cc: "Failed to start server. Error:
    ..."), or "" if there is none. Put first in ServerStartError, so a test or the demo shows
    why, not only that, the server exited; the whole line is kept however long it is."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.startswith(START_FAILURE_PREFIX)]
    return lines[-1] if lines else ""


def flag_values(command: Sequence[str]) -> dict[str, str]:
    """``--name=value`` flags of a command line, the last one of a name winning (as both
    servers read them); a bare ``--name`` maps to ""."""
    values: dict[str, str] = {}
    for arg in command:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            values[name] = value
    return values


def launched_command(
    flags: Sequence[str] = (), *, host: str = LOCALHOST, grpc_port: int | None = None
) -> list[str]:
    """What ``make serve`` runs (``inception_svm_serving.launch``): the production command
    line of ``serving/tensorflow_model_server.args`` with ``flags`` applied, on free ports,
    for ``tensorflow_model_server`` when it is on PATH, else for the stand-in."""
    free_grpc, rest_port = free_port_pair(host)
    base = [f"--port={grpc_port or free_grpc}", f"--rest_api_port={rest_port}"]
    overrides = merge_flags([*base, f"--bind_address={host}"], flags)
    work_dir = Path(tempfile.mkdtemp(prefix="inception-svm-launch-"))
    return local_command(overrides, shutil.which(REAL_SERVER), work_dir)


def stand_in_command(
    flags: Sequence[str] = (), *, host: str = LOCALHOST, grpc_port: int | None = None
) -> list[str]:
    """The stand-in (``python -m inception_svm_serving``) with exactly ``flags`` on free
    ports: for flags only the stand-in has, or without the production defaults."""
    free_grpc, rest_port = free_port_pair(host)
    base = [
        f"--port={grpc_port or free_grpc}",
        f"--rest_api_port={rest_port}",
        f"--bind_address={host}",
    ]
    return [sys.executable, "-m", "inception_svm_serving", *merge_flags(base, flags)]


# Runs as the child before the server: asks Linux to SIGTERM it when the thread that started
# it ends (PR_SET_PDEATHSIG, kept across exec), tells the starting thread so through a pipe
# (that thread waits, or it might end before the request is made), then becomes the server.
# A separate interpreter rather than a ``preexec_fn``: Python runs a ``preexec_fn`` in a
# forked copy of a process that holds gRPC's threads, where it can deadlock or abort.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
os.write(int(sys.argv[1]), b"1")
os.close(int(sys.argv[1]))
try:
    os.execvp(sys.argv[2], sys.argv[2:])
except OSError as error:
    sys.exit(f"cannot run {sys.argv[2]}: {error}")
"""
_DEATH_SIGNAL_SET_TIMEOUT_S = 30.0


def _popen_dying_with_thread(command: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
    """``command`` started so that it is SIGTERMed when the calling thread ends, so an
    interrupted parent never leaves a server (~1 GB) behind; plainly started off Linux."""
    if not sys.platform.startswith("linux"):
        return subprocess.Popen(command, **options)
    ready_read, ready_write = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _DIE_WITH_PARENT, str(ready_write), *command],
            pass_fds=(ready_write,),
            **options,
        )
    finally:
        os.close(ready_write)
    with os.fdopen(ready_read, "rb") as ready:
        # One byte once the request is made; end of file if the child failed before.
        select.select([ready], [], [], _DEATH_SIGNAL_SET_TIMEOUT_S)
    return process


class ServerProcess:
    """One server command line, startable (again, on the same ports) and stoppable.

    ``with ServerProcess(stand_in_command(flags)) as server:`` starts it, waits until ready
    and stops it on exit, also when the body raises. ``start``/``wait_ready``/``kill`` are
    separate for callers that race the start or restart the server behind the same address.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        log_path: Path | None = None,
        tls: TlsConfig | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        die_with_parent: bool = True,
        ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S,
    ) -> None:
        """``command`` (e.g. from ``launched_command`` or ``stand_in_command``) must carry
        ``--port`` (and ``--rest_api_port`` for ``rest_url``); it is reached on its
        ``--bind_address``, loopback when it binds all interfaces. ``tls`` replaces the
        credentials derived from ``--ssl_config_file``. With ``die_with_parent`` the server
        is SIGTERMed when the *thread* calling ``start`` ends: pass False when starting
        from a thread that ends before the server should."""
        self.command = list(command)
        flags = flag_values(self.command)
        if not flags.get("--port"):
            raise ValueError(f"the server command names no --port: {self.command}")
        host = flags.get("--bind_address") or LOCALHOST
        host = LOCALHOST if host in ("0.0.0.0", "::") else host
        self.grpc_target = f"{host}:{flags['--port']}"
        rest_port = flags.get("--rest_api_port", "0")
        self.rest_url = f"http://{host}:{rest_port}" if rest_port not in ("", "0") else ""
        self.model_names = _model_names(flags)
        self.tls = tls if tls is not None else _tls_from_ssl_config(flags)
        if log_path is None:
            log_path = Path(tempfile.mkdtemp(prefix="inception-svm-server-")) / "server.log"
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self.starts = 0
        self._env = dict(os.environ if env is None else env)
        self._cwd = cwd
        self._die_with_parent = die_with_parent
        self._process: subprocess.Popen[bytes] | None = None

    # -- life cycle --------------------------------------------------------------------------

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self._process

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Launch without waiting, appending the output to ``log_path``."""
        if self.running:
            raise RuntimeError(f"the server on {self.grpc_target} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            popen = _popen_dying_with_thread if self._die_with_parent else subprocess.Popen
            self._process = popen(
                self.command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
            )
        self.starts += 1

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Until every model has a version AVAILABLE; ServerStartError with the exit code
        or the last answer, and the log tail, when the process exits or time runs out."""
        process = self._process
        if process is None:
            raise RuntimeError("wait_ready() before start()")
        timeout_s = self.ready_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        with create_channel(ChannelConfig(target=self.grpc_target, tls=self.tls)) as channel:
            status = channel.unary_unary(GET_MODEL_STATUS_METHOD)
            while True:
                ready, last = _models_available(status, self.model_names)
                if ready:
                    return
                if process.poll() is not None:
                    reason = start_failure_line(self.log_path)
                    raise ServerStartError(
                        f"{reason + chr(10) if reason else ''}"
                        f"the server exited with code {process.returncode} before its models "
                        f"were AVAILABLE; command: {' '.join(self.command)}\n"
                        f"log ({self.log_path}) tail:\n{self.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise ServerStartError(
                        f"the server on {self.grpc_target} was not ready after {timeout_s:.0f} s "
                        f"({last})\nlog ({self.log_path}) tail:\n{self.log_tail()}"
                    )
                time.sleep(_POLL_INTERVAL_S)

    def stop(self, grace_s: float = DEFAULT_STOP_GRACE_S) -> int | None:
        """SIGTERM the process group (the server drains), SIGKILL it after ``grace_s``.
        Returns the exit code (None if it was never started)."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL the process group: no drain, as an OOM kill or a lost node."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        self._signal_group(signal.SIGKILL)
        process.wait(timeout=_KILLED_EXIT_S)

    def log_tail(self) -> str:
        return log_tail(self.log_path)

    def _signal_group(self, number: signal.Signals) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, number)

    def __enter__(self) -> ServerProcess:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _model_names(flags: Mapping[str, str]) -> tuple[str, ...]:
    """The models the server was told to serve: its model config file, else --model_name."""
    config = flags.get("--model_config_file")
    if config:
        return tuple(model.name for model in load_model_config_file(Path(config)))
    return (flags.get("--model_name") or TF_SERVING_DEFAULT_MODEL_NAME,)


def _tls_from_ssl_config(flags: Mapping[str, str]) -> TlsConfig | None:
    """Trust the server's own certificate for the readiness check (gRPC accepts a leaf as
    the trust anchor). Under ``client_verify`` the server wants a client certificate that
    only the caller has: say so at construction rather than time out later."""
    path = flags.get("--ssl_config_file")
    if not path:
        return None
    ssl = load_ssl_config(Path(path))
    if ssl.client_verify:
        raise ValueError(
            f"{path} sets client_verify: pass tls=TlsConfig(root_cert=..., client_cert=..., "
            "client_key=...) for the readiness check"
        )
    pem = Path(tempfile.mkdtemp(prefix="inception-svm-tls-")) / "server_cert.pem"
    pem.write_text(ssl.server_cert)  # public: the certificate, never the key
    return TlsConfig(root_cert=pem)


def _models_available(status: Any, names: Sequence[str]) -> tuple[bool, str]:
    """(every model has a version AVAILABLE, what the server said, for error messages)."""
    answers = []
    for name in names:
        request = wire.encode_status_request(ModelTarget(model_name=name))
        try:
            versions = wire.decode_status_response(status(request, timeout=_STATUS_CALL_TIMEOUT_S))
        except ValueError as error:
            return False, f"GetModelStatus {name!r}: unreadable reply: {error}"
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else None
            details = error.details() if isinstance(error, grpc.Call) else str(error)
            return False, f"GetModelStatus {name!r}: {getattr(code, 'name', code)} {details}"
        listed = ", ".join(
            f"{v.version} {v.state}" + (f" ({v.error_message})" if v.error_message else "")
            for v in versions
        )
        if not any(v.state == "AVAILABLE" for v in versions):
            return False, f"model {name!r}: {listed or 'no versions'}"
        answers.append(f"{name!r}: {listed}")
    return True, "; ".join(answers)
