"""One harness for every test that needs a real model server process.

Tests talk to a real ``python -m inception_svm_serving`` subprocess on free localhost ports,
exactly as clients talk to tensorflow_model_server in production, so what they prove holds for
the wire protocol and not just for in-process calls. Starting, readiness (GetModelStatus
AVAILABLE, over TLS for a server with ``--ssl_config_file``) and stopping are the serving
package's ``ServerProcess``, the same helper the demo uses; this module adds the test
defaults (monitoring and health flags, loopback, an environment with quiet TF logs) and the
metrics reader.
"""

from __future__ import annotations

import contextlib
import os
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from inception_svm_client import contract
from inception_svm_client.config import TlsConfig
from inception_svm_serving.config.options import load_monitoring_config
from inception_svm_serving.launch import merge_flags
from inception_svm_serving.process import (
    LOCALHOST,
    ServerProcess,
    free_port,
    free_port_pair,
    log_tail,
    stand_in_command,
)
from tests.paths import REPO_ROOT, SERVING_DIR

__all__ = [
    "BATCHING_PARAMETERS",
    "METRICS_PATH",
    "MODEL_NAME",
    "MONITORING_CONFIG",
    "PRODUCTION_BATCHING_FLAGS",
    "REPO_ROOT",
    "SERVING_DIR",
    "ServerHandle",
    "free_port",
    "free_port_pair",
    "health_serving",
    "log_tail",
    "restartable_server",
    "running_server",
    "server_command",
    "subprocess_env",
]

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


class ServerHandle(ServerProcess):
    """A test's server: the serving package's process helper plus the metrics reader."""

    def metrics_text(self) -> str:
        with urllib.request.urlopen(self.rest_url + METRICS_PATH, timeout=10) as response:
            body: bytes = response.read()
        return body.decode("utf-8")


def subprocess_env(bind_host: str = LOCALHOST) -> dict[str, str]:
    """The environment of every process the tests start (servers, CLIs); ``bind_host`` is
    a loopback address (127.0.0.0/8): tests never listen beyond localhost."""
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
        "INCEPTION_SVM_BIND_HOST": bind_host,
    }


def _test_flags(
    model_base_path: Path | None, model_config_file: Path | None, extra_flags: Sequence[str]
) -> list[str]:
    """The harness defaults (one model, metrics, health service); ``extra_flags`` win."""
    flags = []
    if model_config_file is not None:
        flags.append(f"--model_config_file={model_config_file}")
    elif model_base_path is not None:
        flags += [f"--model_name={MODEL_NAME}", f"--model_base_path={model_base_path}"]
    flags += [
        f"--monitoring_config_file={MONITORING_CONFIG}",
        "--enable_grpc_healthcheck_service=true",
    ]
    return merge_flags(flags, extra_flags)


def server_command(
    grpc_port: int,
    rest_port: int,
    model_base_path: Path | None,
    model_config_file: Path | None,
    extra_flags: Sequence[str],
) -> list[str]:
    """The stand-in's command line with the harness defaults, on the given ports."""
    ports = [f"--port={grpc_port}", f"--rest_api_port={rest_port}"]
    flags = _test_flags(model_base_path, model_config_file, extra_flags)
    return stand_in_command(merge_flags(ports, flags), grpc_port=grpc_port)


def _server(
    model_base_path: Path | None,
    model_config_file: Path | None,
    extra_flags: Sequence[str],
    *,
    bind_host: str = LOCALHOST,
    grpc_port: int | None = None,
    tls: TlsConfig | None = None,
    die_with_parent: bool = True,
    startup_timeout_s: float = 120,
) -> ServerHandle:
    flags = _test_flags(model_base_path, model_config_file, extra_flags)
    return ServerHandle(
        stand_in_command(flags, host=bind_host, grpc_port=grpc_port),
        tls=tls,
        env=subprocess_env(bind_host),
        cwd=REPO_ROOT,
        die_with_parent=die_with_parent,
        ready_timeout_s=startup_timeout_s,
    )


@contextlib.contextmanager
def running_server(
    model_base_path: Path | None = None,
    *,
    model_config_file: Path | None = None,
    extra_flags: Sequence[str] = (),
    startup_timeout_s: float = 120,
    tls: TlsConfig | None = None,
    bind_host: str = LOCALHOST,
    grpc_port: int | None = None,
) -> Iterator[ServerHandle]:
    """Start the stand-in, wait until its models are AVAILABLE, yield it, stop it on exit.

    ``tls``: the client side of a server started with ``--ssl_config_file`` (required for
    mutual TLS; by default its own certificate is trusted). ``bind_host`` (another loopback
    address) and ``grpc_port`` let several servers stand behind one name and port, as pods
    behind a headless Service. Raises ``ServerStartError`` with the server log tail when the
    process exits or is not ready within ``startup_timeout_s``.
    """
    server = _server(
        model_base_path,
        model_config_file,
        extra_flags,
        bind_host=bind_host,
        grpc_port=grpc_port,
        tls=tls,
        startup_timeout_s=startup_timeout_s,
    )
    with server:
        yield server


@contextlib.contextmanager
def restartable_server(
    model_base_path: Path, extra_flags: Sequence[str] = ()
) -> Iterator[ServerHandle]:
    """A server the test starts, SIGKILLs and starts again on the *same* ports: a pod that
    restarts behind a stable address, which clients must find again on their own. Not
    started on entry (callers may race the start); killed on exit.

    Restarts run on helper threads that end while the server must live on, so the server is
    not tied to the thread that started it."""
    server = _server(model_base_path, None, extra_flags, die_with_parent=False)
    try:
        yield server
    finally:
        server.kill()


def health_serving(target: str, timeout_s: float = 2) -> bool:
    """Whether gRPC health (service "") answers SERVING."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
