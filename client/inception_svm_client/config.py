"""Typed configuration of the thin client: the one home of every tunable.

Commands turn their argparse Namespace into these frozen dataclasses right away, so the
logic below never sees flags and the Python API takes exactly the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from inception_svm_client.contract import (
    IMAGES_INPUT,
    LOGITS_OUTPUT,
    MODEL_NAME,
    SERVING_SIGNATURE,
)
from inception_svm_client.exceptions import SettingError
from inception_svm_client.preprocessing import PREPROCESS_CHOICES, Preprocess

MIB = 1024 * 1024
# TF Serving's own default gRPC limit is far above gRPC's 4 MiB; 64 MiB fits a batch of
# 32 large photos while still refusing absurd messages.
DEFAULT_MESSAGE_LIMIT = 64 * MIB
DEFAULT_MAX_IMAGE_BYTES = 32 * MIB
# ``logits`` stays on serving_default (the original contract); the 1024-d pre-logits come
# from the ``features`` signature (contract.FEATURE_SIGNATURES), asked for alone through
# output_filter.
DEFAULT_FEATURES = LOGITS_OUTPUT


@dataclass(frozen=True, kw_only=True)
class TlsConfig:
    """Server-authenticated TLS, plus mTLS when a client certificate and key are given."""

    root_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name_override: str | None = None

    def __post_init__(self) -> None:
        if (self.client_cert is None) != (self.client_key is None):
            raise SettingError("mTLS needs both {client_cert} and {client_key}")


@dataclass(frozen=True, kw_only=True)
class ChannelConfig:
    """How to reach TF Serving.

    A bare ``host:port`` becomes ``dns:///host:port`` with the round_robin policy: gRPC
    then resolves every address behind a headless Service and spreads calls over all of
    them, where the default pick_first would pin one HTTP/2 connection to a single pod.
    """

    target: str
    tls: TlsConfig | None = None
    max_message_bytes: int = DEFAULT_MESSAGE_LIMIT
    keepalive_time_ms: int = 60_000
    keepalive_timeout_ms: int = 20_000
    load_balancing_policy: str = "round_robin"
    # gRPC's own reconnect backoff defaults to 1 s growing to 120 s: after a long outage the
    # channel would sleep for minutes while the server is back. Capped at 1 s, a restarted
    # server is found within ~1 s (one SYN a second to a dead address costs nothing).
    initial_reconnect_backoff_ms: int = 250
    max_reconnect_backoff_ms: int = 1000
    # Shortest wait between two DNS resolutions (gRPC's default is 30 s). Servers close
    # connections at their max age (GOAWAY); round_robin then asks for a re-resolution, and
    # this bound decides how soon pods added since the last one get this client's traffic.
    dns_min_time_between_resolutions_ms: int = 1_000


# How long the client rides out a server that answers nothing usable (UNAVAILABLE,
# DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, connection refused) before giving up. A TF Serving
# pod restart is: kubelet restart delay (10 s on the first crash-loop back-off) + process
# start + model load + warmup (10-30 s for Inception v1) + one readiness period (5 s,
# k8s/base) + endpoint propagation (a few s): 30-60 s in practice, ~15 s for the stand-in on
# 2 busy cores. 120 s rides out a slow restart twice over, and is short enough that a
# server which is really gone is reported within minutes rather than hanging a job.
DEFAULT_RETRY_BUDGET_S = 120.0


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Retries bounded by time: exponential backoff with full jitter (sleep uniform in
    [0, min(cap, base * 2**n))) until ``budget_s`` of continuous failure has passed.

    The budget is one clock per stream (not per batch): it starts at the first failure after
    a success and resets on the next success, so a dead server ends a run of a million
    inputs after ``budget_s``, not after ``budget_s`` per batch. ``max_attempts`` optionally
    caps attempts per call as well (a load tester wants exactly one)."""

    budget_s: float = DEFAULT_RETRY_BUDGET_S
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise SettingError(
                "{max_attempts} must be at least 1, got {got}", got=self.max_attempts
            )
        if self.budget_s < 0:
            raise SettingError("{budget_s} must be >= 0 seconds, got {got}", got=self.budget_s)


@dataclass(frozen=True, kw_only=True)
class ModelTarget:
    """The served signature the client relies on: encoded images in, logits [-1, D] out."""

    model_name: str = MODEL_NAME
    signature_name: str = SERVING_SIGNATURE
    version: int | None = None
    version_label: str | None = None
    # Ask for whatever version the server serves, even when an SVM names the version it was
    # trained on (the default pins requests to that version).
    latest: bool = False
    input_name: str = IMAGES_INPUT
    output_name: str = LOGITS_OUTPUT
    # Requested alongside ``output_name`` through output_filter (e.g. ImageNet top-k).
    extra_outputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        chosen = [self.version is not None, self.version_label is not None, self.latest]
        if sum(chosen) > 1:
            raise SettingError("give one of {version}, {version_label} or {latest}")


@dataclass(frozen=True, kw_only=True)
class FeaturizerConfig:
    """Batching, concurrency and deadline settings of one Featurizer."""

    target: ModelTarget = field(default_factory=ModelTarget)
    batch_size: int = 32
    batch_timeout_ms: float = 50.0
    max_in_flight: int = 4
    deadline_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # "client": JPEGs are decoded and resized here, bit for bit as the export's graph does,
    # and sent as pixels to ``predict_pixels`` (other images still go as bytes); saves the
    # server's CPU, costs the client about as much (docs/performance-gpu-feeding.md).
    preprocess: Preprocess = "server"

    def __post_init__(self) -> None:
        if self.preprocess not in PREPROCESS_CHOICES:
            raise SettingError(
                "{preprocess} must be one of {choices}, got {got!r}",
                choices=", ".join(PREPROCESS_CHOICES),
                got=self.preprocess,
            )
        if self.preprocess == "client" and self.target.output_name != LOGITS_OUTPUT:
            raise SettingError(
                "{preprocess} client sends pixels to predict_pixels, which returns logits "
                "only, not {got!r}",
                got=self.target.output_name,
            )
        if self.batch_size < 1:
            raise SettingError("{batch_size} must be at least 1, got {got}", got=self.batch_size)
        if self.max_in_flight < 1:
            raise SettingError(
                "{max_in_flight} must be at least 1, got {got}", got=self.max_in_flight
            )
        if self.deadline_s <= 0:
            raise SettingError("{deadline_s} must be positive, got {got}", got=self.deadline_s)
        if self.batch_timeout_ms < 0:
            raise SettingError(
                "{batch_timeout_ms} must not be negative, got {got}", got=self.batch_timeout_ms
            )
