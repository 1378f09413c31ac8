"""tensorflow_model_server's flag names, so one command line works with either server.

Only the flags the stand-in honours are accepted; anything else is an argparse error (exit 2),
never silently ignored. Stand-in meanings that differ from the real server:
``--grpc_max_threads`` sizes the gRPC handler thread pool; ``--grpc_channel_arguments`` is
passed to grpcio as server options (ints where they parse, like the real server); with neither
max message length given, the stand-in uses 64 MiB (the real server uses INT32_MAX).
tensorflow_model_server always binds all interfaces (0.0.0.0) and has no flag for it; the
stand-in does the same by default (containers need it) and takes ``--bind_address`` (default:
``INCEPTION_SVM_BIND_HOST`` if set) so that local runs and tests listen on loopback only.
``--max_request_batch_size``, ``--max_request_pixels``, ``--max_inflight_pixels`` and
``--max_inflight_images`` are stand-in only too (README, "Server limits").
``--ssl_config_file`` (SSLConfig text proto) secures the gRPC port only, as in the real server;
REST stays plaintext. ``--max_num_load_retries`` / ``--load_retry_interval_micros`` retry a
failed version load like the real server (defaults 5 and one minute).

This module is imported by the ``inception-svm`` CLI to build its parser, so it must stay
light: the config readers (protobuf, tensorflow_serving) are imported only when parsing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inception_svm_serving.config.options import ServerOptions

_TRUE = {"true", "1", "yes"}

# Stand-in only; unset flags keep config.RequestLimits' defaults (not imported here: protobuf).
_LIMIT_FLAGS = {
    "max_request_batch_size": "images per request (default 1000)",
    "max_request_pixels": "decoded pixels per request (default 4*8192^2)",
    "max_inflight_pixels": "decoded pixels in flight, all requests (default 4*8192^2)",
    "max_inflight_images": "images in flight, all requests (default 1024)",
}

_FALSE = {"false", "0", "no"}
BIND_HOST_ENV = "INCEPTION_SVM_BIND_HOST"
_MESSAGE_LIMITS = ("grpc.max_receive_message_length", "grpc.max_send_message_length")


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--port", type=int, default=8500, help="gRPC port")
    add("--rest_api_port", type=int, default=0, help="REST port; 0 disables REST")
    add("--model_name", default="default", help="ignored with --model_config_file")
    add("--model_base_path", type=Path, help="ignored with --model_config_file")
    add("--model_config_file", type=Path, help="ModelServerConfig text proto")
    for name, default, text in (
        ("enable_batching", False, "merge concurrent requests into batches"),
        ("enable_grpc_healthcheck_service", False, "serve grpc.health.v1.Health"),
        ("enable_model_warmup", True, "replay assets.extra/tf_serving_warmup_requests"),
        (
            "enable_serialization_as_tensor_content",
            False,
            "Predict outputs as packed tensor_content instead of float_val etc.",
        ),
    ):
        add(f"--{name}", type=parse_bool, nargs="?", const=True, default=default, help=text)
    add("--batching_parameters_file", type=Path, help="BatchingParameters text proto")
    add("--monitoring_config_file", type=Path, help="MonitoringConfig text proto")
    add("--file_system_poll_wait_seconds", type=int, default=1, help="version poll period")
    add("--grpc_max_threads", type=int, default=64, help="gRPC handler threads")
    add("--grpc_channel_arguments", default="", help="k=v,k=v gRPC server options")
    add("--num_request_iterations_for_warmup", type=int, default=1)
    add("--ssl_config_file", type=Path, help="SSLConfig text proto: TLS/mTLS on the gRPC port")
    add("--max_num_load_retries", type=int, default=5, help="retries of a failed version load")
    add("--tensorflow_intra_op_parallelism", type=int, default=0, help="0: TF sizes it")
    add("--tensorflow_inter_op_parallelism", type=int, default=0, help="0: TF sizes it")
    add(
        "--per_process_gpu_memory_fraction",
        type=float,
        default=0.0,
        help="GPU memory each model may take (0: as needed); no effect on CPU",
    )
    add(
        "--bind_address",
        default=os.environ.get(BIND_HOST_ENV, "0.0.0.0"),
        help=f"stand-in only: interface to listen on (env {BIND_HOST_ENV})",
    )
    for name, text in _LIMIT_FLAGS.items():
        add(f"--{name}", type=int, help=f"stand-in only: {text}")
    add(
        "--load_retry_interval_micros",
        type=int,
        default=60_000_000,
        help="wait between load retries (microseconds)",
    )


def options_from_args(args: argparse.Namespace) -> ServerOptions:
    """Namespace -> ServerOptions, reading the config files; raises ConfigError."""
    from inception_svm_serving._exceptions import ConfigError
    from inception_svm_serving.config.options import (
        DEFAULT_MAX_MESSAGE_BYTES,
        ModelConfig,
        RequestLimits,
        ServerOptions,
        SessionOptions,
        load_batching_parameters,
        load_model_config_file,
        load_monitoring_config,
        load_ssl_config,
        parse_grpc_channel_arguments,
    )

    if args.model_config_file is not None:
        models = load_model_config_file(args.model_config_file)
    elif args.model_base_path is not None:
        models = (ModelConfig(name=args.model_name, base_path=args.model_base_path),)
    else:
        raise ConfigError("either --model_config_file or --model_base_path is required")
    if args.port == args.rest_api_port:
        raise ConfigError("--rest_api_port cannot be the same as --port")
    if args.grpc_max_threads < 1:
        raise ConfigError("--grpc_max_threads must be >= 1")
    if args.max_num_load_retries < 0 or args.load_retry_interval_micros < 0:
        raise ConfigError("--max_num_load_retries and --load_retry_interval_micros must be >= 0")
    channel_arguments = dict(parse_grpc_channel_arguments(args.grpc_channel_arguments))
    for key in _MESSAGE_LIMITS:
        channel_arguments.setdefault(key, DEFAULT_MAX_MESSAGE_BYTES)
    # grpcio sets SO_REUSEPORT by default: a second server on the same port would start fine
    # and the kernel would split new connections between the two. One server per port.
    channel_arguments.setdefault("grpc.so_reuseport", 0)
    return ServerOptions(
        grpc_port=args.port,
        rest_api_port=args.rest_api_port,
        models=models,
        batching=load_batching_parameters(args.batching_parameters_file)
        if args.enable_batching
        else None,
        monitoring=load_monitoring_config(args.monitoring_config_file),
        file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
        enable_grpc_healthcheck_service=args.enable_grpc_healthcheck_service,
        grpc_max_threads=args.grpc_max_threads,
        grpc_channel_arguments=tuple(channel_arguments.items()),
        enable_model_warmup=args.enable_model_warmup,
        num_request_iterations_for_warmup=max(args.num_request_iterations_for_warmup, 1),
        host=args.bind_address,
        limits=RequestLimits(
            **{k: getattr(args, k) for k in _LIMIT_FLAGS if getattr(args, k) is not None}
        ),
        ssl=load_ssl_config(args.ssl_config_file) if args.ssl_config_file else None,
        max_num_load_retries=args.max_num_load_retries,
        load_retry_interval_micros=args.load_retry_interval_micros,
        enable_serialization_as_tensor_content=args.enable_serialization_as_tensor_content,
        session=SessionOptions(
            intra_op_parallelism=args.tensorflow_intra_op_parallelism,
            inter_op_parallelism=args.tensorflow_inter_op_parallelism,
            per_process_gpu_memory_fraction=args.per_process_gpu_memory_fraction,
        ),
    )
