"""Turn raw per-request outcomes into the figures a load test reports.

Pure functions over plain records so the arithmetic (percentiles, windows, rates) is unit
tested without a server, and so the runner only has to record, never to compute.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

OK_STATUS = "OK"
REPORTED_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0)


@dataclass(frozen=True)
class RequestOutcome:
    """One finished request, times in seconds since the run started (monotonic clock).

    ``warmup`` is decided when the request is admitted, not from ``sent_at``, so the
    request budget (``--requests``) and the figures agree on which requests count.
    """

    sent_at: float
    latency_s: float
    images: int
    status: str = OK_STATUS
    warmup: bool = False

    @property
    def finished_at(self) -> float:
        return self.sent_at + self.latency_s


@dataclass(frozen=True)
class SendCounters:
    """How well an open-loop schedule was kept; a closed loop leaves them at zero.

    An open loop that cannot keep up must say so instead of quietly turning into a closed
    loop: ``dropped`` sends found every in-flight slot busy, ``late`` ones left more than
    the tolerance after their scheduled time.
    """

    scheduled: int = 0
    dropped: int = 0
    late: int = 0
    max_lag_s: float = 0.0


@dataclass(frozen=True)
class LatencySummary:
    """Latency of successful requests, in seconds."""

    count: int
    mean: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class RunSummary:
    """Everything a load test reports about its measured window (warm-up excluded)."""

    window_s: float
    requests: int
    requests_ok: int
    images_ok: int
    requests_per_s: float
    images_per_s: float
    latency: LatencySummary | None
    status_counts: dict[str, int]
    warmup_requests: int
    client_cpu_s: float
    sends: SendCounters = field(default_factory=SendCounters)

    @property
    def errors(self) -> dict[str, int]:
        return {code: n for code, n in self.status_counts.items() if code != OK_STATUS}

    @property
    def client_cpu_cores(self) -> float:
        """Average number of cores the client kept busy: the load generator's own cost."""
        return self.client_cpu_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def client_cpu_ms_per_request(self) -> float:
        return 1000.0 * self.client_cpu_s / self.requests if self.requests else 0.0


def summarize_latencies(latencies_s: Iterable[float]) -> LatencySummary | None:
    ordered = sorted(latencies_s)
    if not ordered:
        return None
    # numpy's default ("linear") method, so the figures agree with any notebook a user
    # checks them in.
    p50, p90, p95, p99 = (
        float(value) for value in np.percentile(ordered, REPORTED_PERCENTILES, method="linear")
    )
    return LatencySummary(
        count=len(ordered),
        mean=math.fsum(ordered) / len(ordered),
        min=ordered[0],
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        max=ordered[-1],
    )


def summarize(
    outcomes: Iterable[RequestOutcome],
    *,
    client_cpu_s: float,
    sends: SendCounters | None = None,
    window: tuple[float, float] | None = None,
) -> RunSummary:
    """Figures over the requests sent after the warm-up.

    The window runs from the first measured send to the last measured completion, so a
    slow straggler lowers throughput as it should, while warm-up requests still in flight
    neither count nor stretch the window. A sweep passes its own ``window`` (start, end)
    instead: then exactly the requests that finished inside it count, over its length,
    which is how successive windows of one continuous load are compared.
    """
    measured: list[RequestOutcome] = []
    warmup_requests = 0
    for outcome in outcomes:
        if outcome.warmup:
            warmup_requests += 1
        elif window is None or window[0] <= outcome.finished_at < window[1]:
            measured.append(outcome)
    status_counts = dict(sorted(Counter(o.status for o in measured).items()))
    ok = [o for o in measured if o.status == OK_STATUS]
    if window is not None:
        window_s = window[1] - window[0]
    elif measured:
        window_s = max(o.finished_at for o in measured) - min(o.sent_at for o in measured)
    else:
        window_s = 0.0
    images_ok = sum(o.images for o in ok)
    return RunSummary(
        window_s=window_s,
        requests=len(measured),
        requests_ok=len(ok),
        images_ok=images_ok,
        requests_per_s=len(ok) / window_s if window_s > 0 else 0.0,
        images_per_s=images_ok / window_s if window_s > 0 else 0.0,
        latency=summarize_latencies(o.latency_s for o in ok),
        status_counts=status_counts,
        warmup_requests=warmup_requests,
        client_cpu_s=client_cpu_s,
        sends=sends if sends is not None else SendCounters(),
    )
