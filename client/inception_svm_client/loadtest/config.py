"""The one typed home of a load test's settings; ``commands/loadtest.py`` fills it from flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from inception_svm_client.config import ChannelConfig, SignatureSpec


@dataclass(frozen=True)
class LoadTestConfig:
    """What to send, how hard, and for how long.

    ``rate`` set means an open loop: sends follow a fixed schedule whatever the latency,
    which is how independent users behave, with at most ``max_outstanding`` in flight so
    an overloaded server shows up as dropped sends instead of an unbounded queue here.
    ``rate`` unset means a closed loop of ``concurrency`` callers, each sending its next
    request when the previous one returns: it finds the throughput the server sustains.
    ``requests`` and ``duration_s`` both count after the warm-up; whichever ends first
    stops the run.
    """

    channel: ChannelConfig
    images: tuple[bytes, ...] = field(repr=False)
    signature: SignatureSpec = field(default_factory=SignatureSpec)
    batch_size: int = 1
    concurrency: int = 1
    rate: float | None = None
    max_outstanding: int = 64
    requests: int | None = None
    duration_s: float | None = None
    warmup_s: float = 0.0
    deadline_s: float = 30.0
    late_threshold_s: float = 0.01
    check_responses: bool = True
    output: Path | None = None

    def __post_init__(self) -> None:
        if self.requests is None and self.duration_s is None:
            raise ValueError("give --requests and/or --duration so the run ends by itself")
        if self.requests is not None and self.requests < 1:
            raise ValueError(f"--requests must be at least 1, got {self.requests}")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError(f"--duration must be positive, got {self.duration_s}")
        if self.warmup_s < 0:
            raise ValueError(f"--warmup must not be negative, got {self.warmup_s}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.concurrency < 1:
            raise ValueError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"--rate must be positive, got {self.rate}")
        if self.max_outstanding < 1:
            raise ValueError(f"--max-outstanding must be at least 1, got {self.max_outstanding}")
        if self.deadline_s <= 0:
            raise ValueError(f"--deadline must be positive, got {self.deadline_s}")
        if not self.images:
            raise ValueError("no images to send")

    @property
    def open_loop(self) -> bool:
        return self.rate is not None

    @property
    def mode(self) -> str:
        return "open" if self.open_loop else "closed"
