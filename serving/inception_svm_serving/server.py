"""Wiring: gRPC + REST up first (health NOT_SERVING), then load and warm models, then SERVING.

Shutdown on SIGTERM/SIGINT is graceful: health flips to NOT_SERVING, in-flight RPCs get a grace
period, then the batch threads and the version poller stop.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent import futures
from types import FrameType

import grpc
from grpc_health.v1 import health_pb2_grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from inception_svm_serving._exceptions import ConfigError, ServingError
from inception_svm_serving.config.options import (
    ServerOptions,
    SslOptions,
    load_model_config_file,
)
from inception_svm_serving.core.admission import Admission
from inception_svm_serving.core.data_plane import DataPlane
from inception_svm_serving.core.image_headers import encoded_image_sizes
from inception_svm_serving.core.memory import shared_trimmer
from inception_svm_serving.core.model_manager import LoadFailure, ModelManager
from inception_svm_serving.observability.logs import log_event
from inception_svm_serving.observability.metrics import ServerMetrics
from inception_svm_serving.protocol.grpc.health import HealthState
from inception_svm_serving.protocol.grpc.servicer import build_servicers
from inception_svm_serving.protocol.rest.http_server import RestServer
from inception_svm_serving.protocol.rest.routes import RestApi

_GRACE_S = 5.0
# main.cc: `return -1` after "Failed to start server. Error: ...".
EXIT_START_FAILED = 255


def _bind_grpc(server: grpc.Server, address: str, ssl: SslOptions | None) -> int:
    """Plaintext, TLS, or mutual TLS (client_verify) exactly as tensorflow_model_server does
    with --ssl_config_file; the PEMs go to gRPC's core and are never logged."""
    try:
        if ssl is None:
            return server.add_insecure_port(address)
        credentials = grpc.ssl_server_credentials(
            [(ssl.server_key.encode(), ssl.server_cert.encode())],
            root_certificates=ssl.custom_ca.encode() if ssl.custom_ca else None,
            require_client_auth=ssl.client_verify,
        )
        return server.add_secure_port(address, credentials)
    except RuntimeError:  # grpcio >= 1.5x raises where older versions returned 0
        return 0


def serve(options: ServerOptions) -> int:
    """Run until SIGTERM/SIGINT. Returns the process exit code."""
    started = time.monotonic()
    metrics = ServerMetrics()
    manager = ModelManager(
        options.models,
        options.batching,
        metrics,
        warmup_iterations=options.num_request_iterations_for_warmup
        if options.enable_model_warmup
        else 0,
        max_load_retries=options.max_num_load_retries,
        load_retry_interval_s=options.load_retry_interval_micros / 1e6,
        session=options.session,
        per_model_batching=options.per_model_batching,
    )
    trimmer = shared_trimmer()
    plane = DataPlane(manager, Admission(options.limits, encoded_image_sizes, trimmer))
    health = HealthState()
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=options.grpc_max_threads),
        options=list(options.grpc_channel_arguments),
        maximum_concurrent_rpcs=None,
    )
    prediction, model_service = build_servicers(
        plane,
        metrics,
        as_tensor_content=options.enable_serialization_as_tensor_content,
        max_request_batch_size=options.limits.max_request_batch_size,
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(model_service, grpc_server)
    if options.enable_grpc_healthcheck_service:
        health_pb2_grpc.add_HealthServicer_to_server(health.servicer, grpc_server)
    # --port=0 turns the TCP listener off; --grpc_socket_path adds unix:<path> (server.cc).
    addresses = [f"{options.host}:{options.grpc_port}"] if options.grpc_port else []
    if options.grpc_socket_path:
        addresses.append(f"unix:{options.grpc_socket_path}")
    for address in addresses:
        if _bind_grpc(grpc_server, address, options.ssl) == 0:
            manager.stop()
            raise ConfigError(
                f"cannot listen on gRPC address {address}: in use (another server?) or not local"
            )
    address = ", ".join(addresses)
    rest: RestServer | None = None
    if options.rest_api_port:
        try:
            rest = RestServer(
                options.host, options.rest_api_port, RestApi(plane, metrics, options.monitoring)
            )
        except OSError as error:
            grpc_server.stop(None)
            manager.stop()
            raise ConfigError(
                f"cannot listen on REST address {options.host}:{options.rest_api_port}: "
                f"{error.strerror or error}"
            ) from error

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        manager.request_stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    grpc_server.start()
    if rest is not None:
        rest.start()
    log_event(
        "server_listening",
        grpc=address,
        tls="off" if options.ssl is None else "mutual" if options.ssl.client_verify else "server",
        rest_port=options.rest_api_port,
        batching=options.batching is not None,
    )
    failures = _initial_load(manager, stop, options.file_system_poll_wait_seconds)
    if failures:
        print(start_failure_message(failures), flush=True)
        log_event("start_failed", error=start_failure_message(failures))
        stop.set()
    if not stop.is_set():
        health.set_serving(True)
        log_event("serving", load_to_serving_s=round(time.monotonic() - started, 3))
        manager.start_polling(options.file_system_poll_wait_seconds)
        _start_config_polling(options, manager, stop)
    stop.wait()
    log_event("shutting_down")
    health.set_serving(False)
    grace_s = 0.0 if failures else _GRACE_S  # nothing was served: nothing to drain
    grpc_server.stop(grace_s).wait(grace_s + 1)
    if rest is not None:
        rest.stop()
    manager.stop()
    log_event("stopped")
    return EXIT_START_FAILED if failures else 0


def _start_config_polling(
    options: ServerOptions, manager: ModelManager, stop: threading.Event
) -> None:
    """--model_config_file_poll_wait_seconds > 0: re-read the model config file that often
    (server.cc PollFilesystemAndReloadConfig); a bad file or a refused reload is logged and
    the server keeps running with the config it has."""
    path, period = options.model_config_file, options.model_config_file_poll_wait_seconds
    if path is None or period <= 0:
        return

    def loop() -> None:
        while not stop.wait(period):
            try:
                models = load_model_config_file(path)
            except ConfigError as error:
                log_event(
                    "model_config_reload_failed",
                    error=f"Failed to read ModelServerConfig file: {error}",
                )
                continue
            try:
                manager.update_models(models, options.allow_unavailable_labels)
            except ServingError as error:
                log_event(
                    "model_config_reload_failed",
                    error=f"PollFilesystemAndReloadConfig failed to ReloadConfig: "
                    f"{error.code.name}: {error.message}",
                )

    threading.Thread(target=loop, name="config-poller", daemon=True).start()


def start_failure_message(failures: list[LoadFailure]) -> str:
    """tensorflow_model_server's line for models that did not load at startup (main.cc prints
    the status of ServerCore::Create, built in load_servables_fast.cc)."""
    entries = "".join(
        f"{{{{name: {f.model} version: {f.version}}} due to error: {f.status}}}, " for f in failures
    )
    return (
        "Failed to start server. Error: UNKNOWN: "
        f"{len(failures)} servable(s) did not become available: {{{entries}}}"
    )


def _initial_load(manager: ModelManager, stop: threading.Event, poll_s: int) -> list[LoadFailure]:
    """Until every model has a version AVAILABLE (then []), one has failed for good (the
    failures: the server then exits like TF Serving), or a stop is requested.

    Unlike TF Serving, whose ports open only once the models are loaded, the ports are already
    up (health says NOT_SERVING meanwhile); and where TF Serving waits silently forever (no
    numeric version directory, base path missing) the model manager logs why, once."""
    manager.poll_once()
    if not manager.all_models_available() and not manager.startup_failures():
        log_event("initial_load_incomplete", detail="serving NOT_SERVING until a version loads")
    while not stop.is_set():
        failures = manager.startup_failures()
        if failures:
            return failures
        if manager.all_models_available():
            return []
        wait = float(max(poll_s, 1))
        retry_in = manager.seconds_until_next_retry()
        if retry_in is not None:
            wait = min(wait, retry_in + 0.01)
        stop.wait(wait)
        manager.poll_once()
    return []
