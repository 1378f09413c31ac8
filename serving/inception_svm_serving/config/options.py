"""Typed home of every server setting: flags plus the three TF Serving config files.

Files are parsed with protobuf ``text_format`` into TF Serving's own messages, so a file that
tensorflow_model_server would reject is rejected here too, at startup, as a ConfigError.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from inception_svm_serving._exceptions import ConfigError
from inception_svm_serving.config._protos import BatchingParameters, MonitoringConfig, SSLConfig

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class VersionPolicy:
    """Which numeric version directories under base_path are aspired (TF Serving semantics)."""

    kind: str = "latest"  # "latest" | "all" | "specific"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def select(self, available: list[int]) -> list[int]:
        ordered = sorted(available)
        if self.kind == "all":
            return ordered
        if self.kind == "specific":
            return [v for v in ordered if v in self.versions]
        return ordered[-self.num_versions :] if ordered else []


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    name: str
    base_path: Path
    policy: VersionPolicy = VersionPolicy()
    version_labels: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, kw_only=True)
class BatchingOptions:
    """TF Serving BatchingParameters; defaults are tensorflow_model_server's own.

    ``max_batch_size`` limits one request (TF Serving's input_batch_size_limit). Without
    ``enable_large_batch_splitting`` it also limits an executed batch and a bigger request is
    refused; with it, requests are split into executed batches of at most
    ``max_execution_batch_size`` rows (which defaults to ``max_batch_size``).
    ``allowed_batch_sizes`` must end with ``max_batch_size`` (not the execution size) and
    need not be sorted: the model server's rule (WrapSessionForBatching), checked at load.
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    num_batch_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_enqueued_batches: int = 10
    allowed_batch_sizes: tuple[int, ...] = ()
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int | None = None

    @property
    def execution_batch_limit(self) -> int:
        """Largest executed batch: GetQueueOptions (tensorflow_serving/servables/tensorflow/
        bundle_factory_util.h) uses max_execution_batch_size when splitting, if set."""
        if self.enable_large_batch_splitting and self.max_execution_batch_size is not None:
            return self.max_execution_batch_size
        return self.max_batch_size

    def __post_init__(self) -> None:
        # Checked when the file is read, like tensorflow_model_server, whose
        # SharedBatchScheduler::Create runs at ServerCore::CreateAdapters, before any load.
        if self.num_batch_threads < 1:
            raise ConfigError(f"num_batch_threads must be positive; was {self.num_batch_threads}")
        # Stand-in only: the int64 fields are size_t in TF Serving, so a negative value wraps
        # to a huge one there; absurd values are refused here instead of tried. Everything
        # TF Serving checks at model load (allowed_batch_sizes, zero sizes, negative timeout,
        # splitting limits) is checked at load, by core.batching.check_batching_for_load.
        for what, value, most in (
            ("max_batch_size", self.max_batch_size, MAX_BATCH_SIZE),
            ("num_batch_threads", self.num_batch_threads, MAX_BATCH_THREADS),
            ("max_enqueued_batches", self.max_enqueued_batches, MAX_ENQUEUED_BATCHES),
            ("max_execution_batch_size", self.max_execution_batch_size or 0, MAX_BATCH_SIZE),
        ):
            if not 0 <= value <= most:
                raise ConfigError(f"batching parameter {what} must be in [0, {most}], got {value}")
        if any(size < 1 for size in self.allowed_batch_sizes):
            raise ConfigError("allowed_batch_sizes entries must be positive")


# Absurd values are refused at start (exit 2) rather than tried: 100,000 batch threads would
# each hold a stack and spin up before a single request is served.
MAX_BATCH_THREADS = 1024
MAX_BATCH_SIZE = 1_000_000
MAX_ENQUEUED_BATCHES = 2**31 - 1  # INT_MAX, the value TF Serving's own test uses


@dataclass(frozen=True, kw_only=True)
class RequestLimits:
    """What one request, and all requests together, may make the server do (stand-in only;
    see README "Server limits"). Checked before anything is decoded.

    ``max_request_batch_size`` applies with batching off as well (TF Serving's own limit,
    max_batch_size, exists only with batching on). Pixels are counted from the image headers:
    the default of four maximum-size images (4 x 8192², 268 M pixels: a client batch of 32
    photos of 8 MP) bounds what one request, and all requests in flight together, may ask the
    graph to decode (a merged batch is made of admitted requests, so the same bound holds per
    batch). ``max_inflight_images`` bounds the rows admitted at once, whatever their size;
    the activations of a running request are bounded by the SavedModel itself, which runs the
    network over sub-batches of 32 rows (export/inception_svm_export/network.py). A request
    beyond a per-request limit gets INVALID_ARGUMENT (the client splits such a batch); one
    that waits more than ``admission_timeout_s`` for in-flight room gets RESOURCE_EXHAUSTED.
    """

    max_request_batch_size: int = 1000
    max_request_pixels: int = 4 * 8192 * 8192
    max_inflight_pixels: int = 4 * 8192 * 8192
    max_inflight_images: int = 1024
    admission_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if min(self.max_request_batch_size, self.max_request_pixels, self.max_inflight_images) < 1:
            raise ConfigError("request limits must be >= 1")
        if self.max_inflight_pixels < self.max_request_pixels:
            raise ConfigError(
                f"--max_inflight_pixels ({self.max_inflight_pixels}) must be >= "
                f"--max_request_pixels ({self.max_request_pixels})"
            )
        if self.max_inflight_images < self.max_request_batch_size:
            raise ConfigError(
                f"--max_inflight_images ({self.max_inflight_images}) must be >= "
                f"--max_request_batch_size ({self.max_request_batch_size})"
            )


@dataclass(frozen=True, kw_only=True)
class MonitoringOptions:
    prometheus_enabled: bool = False
    prometheus_path: str = "/monitoring/prometheus/metrics"


@dataclass(frozen=True, kw_only=True)
class SslOptions:
    """TF Serving's SSLConfig for the gRPC port. PEM contents, never printed (repr=False)."""

    server_key: str = field(repr=False)
    server_cert: str = field(repr=False)
    custom_ca: str = field(default="", repr=False)
    client_verify: bool = False


@dataclass(frozen=True, kw_only=True)
class SessionOptions:
    """TF Serving's session flags, set on every model's session like ``server.cc`` does
    (``--tensorflow_intra_op_parallelism`` / ``--tensorflow_inter_op_parallelism`` into the
    session config's thread pools, ``--per_process_gpu_memory_fraction`` into its GPU
    options). 0 keeps TensorFlow's default, which sizes the pools from the machine's cores,
    not from a container's CPU limit: set them to the limit in a pod."""

    intra_op_parallelism: int = 0
    inter_op_parallelism: int = 0
    per_process_gpu_memory_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.intra_op_parallelism < 0 or self.inter_op_parallelism < 0:
            raise ConfigError("--tensorflow_*_op_parallelism must be >= 0")
        if not 0.0 <= self.per_process_gpu_memory_fraction <= 1.0:
            raise ConfigError("--per_process_gpu_memory_fraction must be between 0 and 1")


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    grpc_port: int
    rest_api_port: int
    models: tuple[ModelConfig, ...]
    batching: BatchingOptions | None
    monitoring: MonitoringOptions
    file_system_poll_wait_seconds: int = 1
    enable_grpc_healthcheck_service: bool = False
    grpc_max_threads: int = 64
    grpc_channel_arguments: tuple[tuple[str, int | str], ...] = ()
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 1
    host: str = "0.0.0.0"
    limits: RequestLimits = RequestLimits()
    ssl: SslOptions | None = None
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    # TF Serving's default: Predict outputs in the typed fields (float_val, ...).
    enable_serialization_as_tensor_content: bool = False
    session: SessionOptions = SessionOptions()
    grpc_socket_path: str = ""
    # --enable_per_model_batching_parameters: <version dir>/batching_params.pbtxt per model.
    per_model_batching: bool = False
    model_config_file: Path | None = None
    model_config_file_poll_wait_seconds: int = 0
    allow_unavailable_labels: bool = False


def _read_text_proto(path: Path, message: Any, what: str, *, secret: bool = False) -> Any:
    """Parse a text-proto config file into ``message``, or raise ConfigError.

    With ``secret``, errors report only the position: protobuf's message can quote the
    offending text, which in an SSL config may be key material."""
    try:
        text = path.read_text()
    except OSError as error:
        reason = error.strerror if secret else error
        raise ConfigError(f"cannot read {what} {path}: {reason}") from error
    try:
        return text_format.Parse(text, message)
    except text_format.ParseError as error:
        if secret:
            line, column = error.GetLine(), error.GetColumn()
            raise ConfigError(f"invalid {what} {path} at line {line}, column {column}") from None
        raise ConfigError(f"invalid {what} {path}: {error}") from error


def load_model_config_file(
    path: Path, *, at_startup_without_label_flag: bool = False
) -> tuple[ModelConfig, ...]:
    """--model_config_file with ServerCore's checks (tensorflow_serving/model_servers/
    server_core.cc: ValidateModelConfigList, GetPlatform) and their messages. An empty file
    is a config with no models, as in TF Serving.

    ``at_startup_without_label_flag``: the server is starting without
    --allow_version_labels_for_unavailable_models, so nothing is loaded yet and any
    version label fails as in UpdateModelVersionLabelMap."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"NOT_FOUND: {path}; {error.strerror or error}") from error
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ConfigError(
            f"INVALID_ARGUMENT: Invalid protobuf file: '{path}' (Error parsing text-format "
            f"tensorflow.serving.ModelServerConfig: {error})"
        ) from error
    kind = config.WhichOneof("config")
    if kind is None:
        return ()  # "Taking no action for empty config." (server_core.cc ReloadConfig)
    if kind != "model_config_list":
        raise ConfigError("ModelServer does not yet support custom model config.")
    entries = list(config.model_config_list.config)
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise ConfigError(f"Illegal to list model {entry.name} multiple times in config list")
        seen.add(entry.name)
    models = []
    for entry in entries:
        if not entry.name:  # stand-in only: TF Serving takes a model without a name
            raise ConfigError(f"{path}: every model config needs a name")
        if not _is_absolute_path_or_uri(entry.base_path):
            raise ConfigError(
                f"Expected model {entry.name} to have an absolute path or URI; "
                f"got base_path()={entry.base_path}"
            )
        _check_platform(entry)
        models.append(
            ModelConfig(
                name=entry.name,
                base_path=Path(entry.base_path),
                policy=_version_policy(entry.model_version_policy, path),
                version_labels=tuple(sorted(entry.version_labels.items())),
            )
        )
    if at_startup_without_label_flag:
        # At startup nothing is loaded yet, so any label names an unavailable version.
        for model in models:
            for _label, version in model.version_labels:
                raise ConfigError(
                    f"FAILED_PRECONDITION: Request to assign label to version {version} of "
                    f"model {model.name}, which is not currently available for inference"
                )
    return tuple(models)


def _is_absolute_path_or_uri(base_path: str) -> bool:
    """Not UriIsRelativePath (tensorflow_serving/model_servers/server_core.cc): a scheme or
    an absolute path; an empty path counts as relative."""
    return base_path.startswith("/") or _URI_SCHEME.match(base_path) is not None


_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _check_platform(entry: Any) -> None:
    """GetPlatform and CreateStoragePathRoutes (server_core.cc)."""
    platform = entry.model_platform
    if entry.model_type:  # deprecated ModelType; TENSORFLOW = 1
        if platform:
            raise ConfigError(
                "Illegal setting both ModelServerConfig::model_type (deprecated) and "
                f"ModelServerConfig::model_platform, model name is {entry.name}"
            )
        if entry.model_type != 1:
            raise ConfigError(
                f"ModelServerConfig::model_type choice {entry.model_type} not supported."
            )
        platform = "tensorflow"
    if not platform:
        raise ConfigError(
            "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
            f"ModelServerConfig::model_platform, model name is {entry.name}"
        )
    if platform != "tensorflow":
        raise ConfigError(f"Model {entry.name} requests unsupported platform {platform}")


def _version_policy(policy: Any, path: Path) -> VersionPolicy:
    kind = policy.WhichOneof("policy_choice")
    if kind is None or kind == "latest":
        num = policy.latest.num_versions if kind else 1
        return VersionPolicy(kind="latest", num_versions=max(num, 1))
    if kind == "all":
        return VersionPolicy(kind="all")
    if kind == "specific":
        if not policy.specific.versions:
            raise ConfigError(f"{path}: specific version policy needs at least one version")
        return VersionPolicy(kind="specific", versions=tuple(policy.specific.versions))
    raise ConfigError(f"{path}: unsupported version policy {kind}")


def load_batching_parameters(path: Path | None) -> BatchingOptions:
    if path is None:
        return BatchingOptions()
    params = _read_text_proto(path, BatchingParameters(), "batching parameters file")
    defaults = BatchingOptions()

    def value(name: str, default: int) -> int:
        return int(getattr(params, name).value) if params.HasField(name) else default

    return BatchingOptions(
        max_batch_size=value("max_batch_size", defaults.max_batch_size),
        batch_timeout_micros=value("batch_timeout_micros", defaults.batch_timeout_micros),
        num_batch_threads=value("num_batch_threads", defaults.num_batch_threads),
        max_enqueued_batches=value("max_enqueued_batches", defaults.max_enqueued_batches),
        allowed_batch_sizes=tuple(int(s) for s in params.allowed_batch_sizes),
        enable_large_batch_splitting=bool(params.enable_large_batch_splitting.value),
        max_execution_batch_size=value("max_execution_batch_size", 0) or None,
    )


def load_ssl_config(path: Path) -> SslOptions:
    """--ssl_config_file: errors name the file and the field, never its (secret) contents."""
    config = _read_text_proto(path, SSLConfig(), "SSL config", secret=True)
    if not config.server_key or not config.server_cert:
        raise ConfigError(f"SSL config {path}: server_key and server_cert are required")
    if config.client_verify and not config.custom_ca:
        raise ConfigError(f"SSL config {path}: client_verify needs custom_ca to verify clients")
    return SslOptions(
        server_key=config.server_key,
        server_cert=config.server_cert,
        custom_ca=config.custom_ca,
        client_verify=bool(config.client_verify),
    )


def load_monitoring_config(path: Path | None) -> MonitoringOptions:
    if path is None:
        return MonitoringOptions()
    config = _read_text_proto(path, MonitoringConfig(), "monitoring config")
    prometheus = config.prometheus_config
    return MonitoringOptions(
        prometheus_enabled=bool(prometheus.enable),
        prometheus_path=prometheus.path or MonitoringOptions().prometheus_path,
    )


# absl::SimpleAtoi into an int32, as tensorflow_model_server uses: optional surrounding
# whitespace and sign, decimal digits only (no "_" or "0x" as Python's int() would take).
_SIMPLE_ATOI = re.compile(r"\s*[+-]?[0-9]+\s*")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# Arguments gRPC core reads only as integers. The real server hands a value that is not an
# int32 to gRPC as a string, which gRPC ignores with a log line, so a typo there silently
# turns connection max age (the clients' rebalancing) off; the stand-in refuses it instead.
INTEGER_CHANNEL_ARGUMENTS = frozenset(
    {
        "grpc.max_connection_age_ms",
        "grpc.max_connection_age_grace_ms",
        "grpc.max_connection_idle_ms",
        "grpc.max_receive_message_length",
        "grpc.max_send_message_length",
        "grpc.max_concurrent_streams",
        "grpc.keepalive_time_ms",
        "grpc.keepalive_timeout_ms",
        "grpc.keepalive_permit_without_calls",
        "grpc.http2.max_pings_without_data",
        "grpc.http2.min_ping_interval_without_data_ms",
        "grpc.http2.max_ping_strikes",
    }
)


def _simple_atoi32(text: str) -> int | None:
    if not _SIMPLE_ATOI.fullmatch(text):
        return None
    value = int(text)
    return value if _INT32_MIN <= value <= _INT32_MAX else None


def parse_grpc_channel_arguments(text: str) -> tuple[tuple[str, int | str], ...]:
    """``--grpc_channel_arguments`` -> gRPC server options, parsed as tensorflow_model_server
    does (tensorflow_serving/model_servers/server.cc: parseGrpcChannelArgs splits on "," and
    then "=", and each value that absl::SimpleAtoi reads as an int32 is added as an integer,
    any other as a string).

    Where the real server would misbehave the stand-in refuses (ConfigError, exit 2): an item
    without exactly one "=" (server.cc indexes past the split), an empty or blank-padded key
    (gRPC would ignore it) and a non-int32 value for an integer argument (gRPC would ignore it).
    """
    if not text:
        return ()
    arguments: list[tuple[str, int | str]] = []
    for item in text.split(","):
        parts = item.split("=")
        if len(parts) != 2 or not parts[0] or parts[0] != parts[0].strip():
            raise ConfigError(f"--grpc_channel_arguments: expected key=value, got {item!r}")
        key, raw = parts
        value = _simple_atoi32(raw)
        if value is None and key in INTEGER_CHANNEL_ARGUMENTS:
            raise ConfigError(
                f"--grpc_channel_arguments: {key} takes a 32-bit integer, got {raw!r}"
            )
        arguments.append((key, raw if value is None else value))
    return tuple(arguments)
