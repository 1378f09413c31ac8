"""Typed configuration of the thin client: the one home of every tunable.

Commands turn their argparse Namespace into these frozen dataclasses right away, so the
logic below never sees flags and the Python API takes exactly the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
# TF Serving's own default gRPC limit is far above gRPC's 4 MiB; 64 MiB fits a batch of
# 32 large photos while still refusing absurd messages.
DEFAULT_MESSAGE_LIMIT = 64 * MIB
DEFAULT_MAX_IMAGE_BYTES = 32 * MIB


@dataclass(frozen=True)
class TlsConfig:
    """Server-authenticated TLS, plus mTLS when a client certificate and key are given."""

    root_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name_override: str | None = None

    def __post_init__(self) -> None:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("mTLS needs both a client certificate and a client key")


@dataclass(frozen=True)
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
    # Shortest wait between two DNS resolutions (gRPC's default is 30 s). Servers close
    # connections at their max age (GOAWAY); round_robin then asks for a re-resolution, and
    # this bound decides how soon pods added since the last one get this client's traffic.
    dns_min_time_between_resolutions_ms: int = 1_000


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (sleep uniform in [0, min(cap, base * 2**n)])."""

    max_attempts: int = 5
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True)
class SignatureSpec:
    """The served signature the client relies on: encoded images in, logits [-1, D] out."""

    model_name: str = "inception_v1"
    signature_name: str = "serving_default"
    version: int | None = None
    version_label: str | None = None
    input_name: str = "images"
    output_name: str = "logits"

    def __post_init__(self) -> None:
        if self.version is not None and self.version_label is not None:
            raise ValueError("give a model version or a version label, not both")


@dataclass(frozen=True)
class FeaturizerConfig:
    """Batching, concurrency and deadline settings of one Featurizer."""

    signature: SignatureSpec = field(default_factory=SignatureSpec)
    batch_size: int = 32
    batch_timeout_ms: float = 50.0
    max_in_flight: int = 4
    deadline_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if self.deadline_s <= 0 or self.batch_timeout_ms < 0:
            raise ValueError("deadline_s must be positive and batch_timeout_ms non-negative")
