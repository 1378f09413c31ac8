"""The one typed home of a load test's settings; ``commands/loadtest.py`` fills it from flags."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from inception_svm_client.config import ChannelConfig, ModelTarget
from inception_svm_client.exceptions import SettingError
from inception_svm_client.preprocessing import Preprocess


@dataclass(frozen=True, kw_only=True)
class LoadTestConfig:
    """What to send, how hard, and for how long.

    ``rate`` set means an open loop: sends follow a fixed schedule whatever the latency,
    which is how independent users behave, with at most ``max_outstanding`` in flight so
    an overloaded server shows up as dropped sends instead of an unbounded queue here.
    ``rate`` unset means a closed loop of ``concurrency`` callers, each sending its next
    request when the previous one returns: it finds the throughput the server sustains.
    ``requests`` and ``duration_s`` both count after the warm-up; whichever ends first
    stops the run. ``connections`` separate HTTP/2 connections (gRPC channels that share
    no subchannel) carry the load, callers or sends spread over them in turn: one
    connection is itself a bottleneck and, behind a plain Service, pins to one pod.
    """

    channel: ChannelConfig
    images: tuple[bytes, ...] = field(repr=False)
    target: ModelTarget = field(default_factory=ModelTarget)
    batch_size: int = 1
    concurrency: int = 1
    connections: int = 1
    rate: float | None = None
    max_outstanding: int = 64
    requests: int | None = None
    duration_s: float | None = None
    warmup_s: float = 0.0
    deadline_s: float = 30.0
    late_threshold_s: float = 0.01
    check_responses: bool = True
    # "client": each batch of JPEGs is decoded and resized here, once, and replayed as
    # pixels to predict_pixels, so the run measures the server without its decode.
    preprocess: Preprocess = "server"

    def __post_init__(self) -> None:
        if self.requests is None and self.duration_s is None:
            raise SettingError("give {requests} and/or {duration_s} so the run ends by itself")
        if self.requests is not None and self.requests < 1:
            raise SettingError("{requests} must be at least 1, got {got}", got=self.requests)
        if self.duration_s is not None and self.duration_s <= 0:
            raise SettingError("{duration_s} must be positive, got {got}", got=self.duration_s)
        if self.warmup_s < 0:
            raise SettingError("{warmup_s} must not be negative, got {got}", got=self.warmup_s)
        if self.batch_size < 1:
            raise SettingError("{batch_size} must be at least 1, got {got}", got=self.batch_size)
        if self.concurrency < 1:
            raise SettingError("{concurrency} must be at least 1, got {got}", got=self.concurrency)
        if self.connections < 1:
            raise SettingError("{connections} must be at least 1, got {got}", got=self.connections)
        if not self.open_loop and self.connections > self.concurrency:
            raise SettingError(
                "{connections} {got} exceeds {concurrency} {most}: "
                "a connection without a caller would carry no load",
                got=self.connections,
                most=self.concurrency,
            )
        if self.rate is not None and self.rate <= 0:
            raise SettingError("{rate} must be positive, got {got}", got=self.rate)
        if self.max_outstanding < 1:
            raise SettingError(
                "{max_outstanding} must be at least 1, got {got}", got=self.max_outstanding
            )
        if self.deadline_s <= 0:
            raise SettingError("{deadline_s} must be positive, got {got}", got=self.deadline_s)
        if not self.images:
            raise SettingError("no {images} to send")

    @property
    def open_loop(self) -> bool:
        return self.rate is not None

    @property
    def mode(self) -> str:
        return "open" if self.open_loop else "closed"


@dataclass(frozen=True, kw_only=True)
class LevelRange:
    """``START:END:STEP`` of concurrency or rate; ``STEP`` ``xK`` multiplies instead of adds,
    so ``1:64:x2`` walks 1, 2, 4, ..., 64: capacity curves want even spacing on a log axis."""

    start: float
    end: float
    step: float
    multiply: bool = False

    def __post_init__(self) -> None:
        if self.start <= 0 or self.end < self.start:
            raise ValueError(f"range needs 0 < START <= END, got {self.start}:{self.end}")
        if self.multiply and self.step <= 1:
            raise ValueError(f"a multiplying STEP must exceed 1, got x{self.step:g}")
        if not self.multiply and self.step <= 0:
            raise ValueError(f"STEP must be positive, got {self.step:g}")

    @classmethod
    def parse(cls, text: str) -> LevelRange:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"range {text!r} is not START:END[:STEP]")
        step_text = parts[2] if len(parts) == 3 else "1"
        multiply = step_text[:1] in ("x", "*")
        try:
            start, end = float(parts[0]), float(parts[1])
            step = float(step_text[1:] if multiply else step_text)
        except ValueError:
            raise ValueError(f"range {text!r} is not START:END[:STEP] of numbers") from None
        return cls(start=start, end=end, step=step, multiply=multiply)

    def levels(self) -> tuple[float, ...]:
        values: list[float] = []
        value = self.start
        while value <= self.end * (1 + 1e-9):
            values.append(value)
            value = value * self.step if self.multiply else value + self.step
        if values[-1] < self.end * (1 - 1e-9):
            values.append(self.end)  # always measure the END the user asked for
        return tuple(values)


@dataclass(frozen=True, kw_only=True)
class WindowPolicy:
    """perf_analyzer's stability rule: a sweep step measures back-to-back windows of
    ``window_s`` until the last ``stable_windows`` agree within ``tolerance`` (throughput
    and mean latency, each relative to their average over those windows), or until
    ``max_windows``; the step's row then covers those last windows, marked unstable in the
    second case."""

    window_s: float = 5.0
    tolerance: float = 0.10
    max_windows: int = 10
    stable_windows: int = 3

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise SettingError("{window_s} must be positive, got {got}", got=self.window_s)
        if not 0 < self.tolerance < 1:
            raise SettingError("{tolerance} must be within (0, 1), got {got}", got=self.tolerance)
        if self.max_windows < self.stable_windows:
            raise SettingError(
                "{max_windows} must be at least {least}, got {got}",
                least=self.stable_windows,
                got=self.max_windows,
            )

    @property
    def step_bound_s(self) -> float:
        """The longest a step's load can run: one window more than ``max_windows``, so the
        load never ends inside the last window."""
        return self.window_s * (self.max_windows + 1)


@dataclass(frozen=True, kw_only=True)
class Gates:
    """When the run fails (exit 1): an error rate above ``max_error_rate`` (a fraction; 0
    means any failed request fails the run) or a p99 above ``slo_p99_s``, at any step. A
    sweep also stops at the first step that fails a gate: higher load would only fail more."""

    max_error_rate: float = 0.0
    slo_p99_s: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.max_error_rate <= 1:
            raise SettingError(
                "{max_error_rate} must be within [0, 1], got {got}", got=self.max_error_rate
            )
        if self.slo_p99_s is not None and self.slo_p99_s <= 0:
            raise SettingError("{slo_p99_s} must be positive, got {got}", got=self.slo_p99_s)


@dataclass(frozen=True, kw_only=True)
class Outputs:
    """Where the report goes besides the table on stdout; each file is written whole."""

    json: Path | None = None
    csv: Path | None = None
    html: Path | None = None


@dataclass(frozen=True, kw_only=True)
class LoadTestPlan:
    """A whole ``loadtest`` invocation: one run, or a sweep of ``levels``.

    ``base`` holds everything but the level; a sweep replaces its ``concurrency`` or
    ``rate`` per step (``sweep_kind``) and bounds each step by the window policy instead of
    ``--requests``/``--duration``. ``metrics_url`` is the server's Prometheus endpoint.
    """

    base: LoadTestConfig
    levels: tuple[float, ...] = ()
    windows: WindowPolicy = field(default_factory=WindowPolicy)
    gates: Gates = field(default_factory=Gates)
    outputs: Outputs = field(default_factory=Outputs)
    metrics_url: str | None = None

    @property
    def is_sweep(self) -> bool:
        return bool(self.levels)

    @property
    def sweep_kind(self) -> str:
        return "rate" if self.base.open_loop else "concurrency"

    def step_config(self, level: float) -> LoadTestConfig:
        """The config of one sweep step, bounded by its longest possible measurement."""
        bound_s = self.windows.step_bound_s
        if self.base.open_loop:
            return replace(self.base, rate=level, requests=None, duration_s=bound_s)
        return replace(self.base, concurrency=int(level), requests=None, duration_s=bound_s)
