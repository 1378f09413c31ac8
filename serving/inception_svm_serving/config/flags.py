"""tensorflow_model_server's flag names, so one command line works with either server.

Every flag of tensorflow_model_server's main.cc is accepted with its default; a value the
stand-in cannot honour is refused (exit 2) with the reason, never silently ignored, and an
unknown flag is an argparse error (exit 2). docs/tf-serving-load-rules.md tables each one.
Stand-in meanings that differ from the real server:
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
    _add_remaining_tf_serving_flags(parser)


# The rest of tensorflow_model_server's flags (tensorflow_serving/model_servers/main.cc), with
# its defaults, so that any command line the real server takes parses here too. Honoured:
# grpc_socket_path, allow_version_labels_for_unavailable_models,
# enable_per_model_batching_parameters, model_config_file_poll_wait_seconds,
# tensorflow_session_parallelism, saved_model_tags ("serve"), version. Performance knobs
# with no stand-in counterpart are accepted and have no effect (NO_EFFECT_FLAGS); features
# the stand-in lacks are refused (exit 2) when set to anything but their default, never
# silently dropped (docs/tf-serving-load-rules.md has the table).
_CPUS = os.cpu_count() or 1
NO_EFFECT_FLAGS = (
    "rest_api_num_threads",
    "rest_api_timeout_in_ms",
    "num_load_threads",
    "num_unload_threads",
    "flush_filesystem_caches",
    "remove_unused_fields_from_bundle_metagraph",
    "num_tflite_pools",
    "num_tflite_interpreters_per_pool",
    "xla_cpu_compilation_enabled",
    "xla_gpu_compilation_enabled",
    "enable_profiler",
    "skip_initialize_tpu",
    "mixed_precision",
)
# flag -> (default, why the stand-in cannot honour another value)
UNSUPPORTED_VALUES: dict[str, tuple[object, str]] = {
    "rest_api_enable_cors_support": (False, "the stand-in's REST API sends no CORS headers"),
    "use_alts_credentials": (False, "the stand-in has no ALTS; use --ssl_config_file"),
    "platform_config_file": (None, "the stand-in serves the tensorflow platform only"),
    "tensorflow_session_config_file": (
        None,
        "use --tensorflow_intra_op_parallelism / --tensorflow_inter_op_parallelism",
    ),
    "prefer_tflite_model": (False, "the stand-in has no TFLite runtime"),
    "enable_signature_method_name_check": (False, "the stand-in does not check method names"),
    "thread_pool_factory_config_file": (None, "the stand-in has no thread pool factories"),
}


def _add_remaining_tf_serving_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    for name, default in (
        ("allow_version_labels_for_unavailable_models", False),
        ("enable_per_model_batching_parameters", False),
        ("rest_api_enable_cors_support", False),
        ("flush_filesystem_caches", True),
        ("use_alts_credentials", False),
        ("version", False),
        ("remove_unused_fields_from_bundle_metagraph", True),
        ("prefer_tflite_model", False),
        ("enable_signature_method_name_check", False),
        ("xla_cpu_compilation_enabled", False),
        ("xla_gpu_compilation_enabled", False),
        ("enable_profiler", True),
        ("skip_initialize_tpu", False),
    ):
        add(f"--{name}", type=parse_bool, nargs="?", const=True, default=default)
    for name, number in (
        ("rest_api_num_threads", 4 * _CPUS),
        ("rest_api_timeout_in_ms", 30000),
        ("model_config_file_poll_wait_seconds", 0),
        ("num_load_threads", 0),
        ("num_unload_threads", 0),
        ("tensorflow_session_parallelism", 0),
        ("num_tflite_pools", _CPUS),
        ("num_tflite_interpreters_per_pool", 1),
    ):
        add(f"--{name}", type=int, default=number)
    for name in ("platform_config_file", "tensorflow_session_config_file"):
        add(f"--{name}", type=Path)
    add("--thread_pool_factory_config_file", type=Path)
    add("--grpc_socket_path", default="", help="also listen on unix:<path>")
    add("--saved_model_tags", default="serve", help="only 'serve' is supported")
    add("--mixed_precision", default="", help="no effect in the stand-in")


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

    # Server::BuildAndStart (tensorflow_serving/model_servers/server.cc), in its order.
    if args.port == 0 and not args.grpc_socket_path:
        raise ConfigError(
            "At least one of server_options.grpc_port or server_options.grpc_socket_path "
            "must be set."
        )
    if args.use_alts_credentials and args.ssl_config_file is not None:
        raise ConfigError(
            "Either use_alts_credentials must be false or ssl_config_file must be empty."
        )
    for name, (default, why) in UNSUPPORTED_VALUES.items():
        if getattr(args, name) != default:
            raise ConfigError(f"--{name}={getattr(args, name)} is not supported: {why}")
    if set(filter(None, args.saved_model_tags.split(","))) - {"serve"}:
        raise ConfigError(f"--saved_model_tags={args.saved_model_tags}: only 'serve' is supported")
    if args.model_config_file is not None:
        models = load_model_config_file(
            args.model_config_file,
            at_startup_without_label_flag=not args.allow_version_labels_for_unavailable_models,
        )
    elif args.model_base_path is not None:
        models = (ModelConfig(name=args.model_name, base_path=args.model_base_path),)
    else:
        raise ConfigError(
            "Both server_options.model_base_path and server_options.model_config_file are empty!"
        )
    if args.batching_parameters_file is not None and not args.enable_batching:
        raise ConfigError(
            "server_options.batching_parameters_file is set without setting "
            "server_options.enable_batching to true."
        )
    if (
        min(args.tensorflow_intra_op_parallelism, args.tensorflow_inter_op_parallelism) > 0
        and args.tensorflow_session_parallelism > 0
    ):
        raise ConfigError(
            "Either configure server_options.tensorflow_session_parallelism or "
            "(server_options.tensorflow_intra_op_parallelism, "
            "server_options.tensorflow_inter_op_parallelism) separately. "
            "You cannot configure all."
        )
    # server.cc: intra/inter if either is > 0 (a zero one stays zero), else
    # --tensorflow_session_parallelism for both.
    intra, inter = args.tensorflow_intra_op_parallelism, args.tensorflow_inter_op_parallelism
    if intra <= 0 and inter <= 0:
        intra = inter = args.tensorflow_session_parallelism
    if args.port == args.rest_api_port:
        # TF Serving logs this and serves gRPC only; one port cannot carry both here.
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
            intra_op_parallelism=intra,
            inter_op_parallelism=inter,
            per_process_gpu_memory_fraction=args.per_process_gpu_memory_fraction,
        ),
        grpc_socket_path=args.grpc_socket_path,
        per_model_batching=args.enable_per_model_batching_parameters,
        model_config_file=args.model_config_file,
        model_config_file_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
        allow_unavailable_labels=args.allow_version_labels_for_unavailable_models,
    )
