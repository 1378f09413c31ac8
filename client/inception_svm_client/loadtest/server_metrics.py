"""The server's side of a load step, from TF Serving's Prometheus metrics.

tensorflow_model_server (and our stand-in, which copies it) exports on its REST port, at
the ``monitoring.config`` path, TF monitoring cells renamed ``/`` → ``:``. A step reads the
text before and after and reports the difference, so a user can tell time spent queueing
for a batch from time spent computing it:

- ``:tensorflow:serving:request_latency{model_name,API,entrypoint}``: histogram, µs, of
  whole requests (our ``API="Predict"``, ``entrypoint="GRPC"``);
- ``:tensorflow:serving:batching_session:queuing_latency{thread_pool_name}``: histogram,
  µs, of the wait in the batching queue (only with ``--enable_batching``);
- ``:tensorflow:serving:batching:batch_size{model_name,op_name}``: histogram of rows per
  executed batch (only with batching).

Percentiles from these histograms are estimates: TF Serving's latency buckets grow by 1.8×,
so a p99 is only known to within its bucket (interpolated linearly, as Prometheus's
``histogram_quantile`` does). Means come from ``_sum``/``_count`` and are exact.
"""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from inception_svm_client.exceptions import ClientError, ErrorCode

REQUEST_LATENCY = ":tensorflow:serving:request_latency"
QUEUING_LATENCY = ":tensorflow:serving:batching_session:queuing_latency"
BATCH_SIZE = ":tensorflow:serving:batching:batch_size"
DEFAULT_METRICS_PATH = "/monitoring/prometheus/metrics"
SCRAPE_TIMEOUT_S = 5.0

# name{labels} value [timestamp]; label values are quoted with \\ \" \n escapes.
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]


def parse_exposition(text: str) -> Samples:
    """Prometheus text format 0.0.4 → {(sample name, labels): value}; comments skipped."""
    samples: Samples = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise ValueError(f"not a Prometheus sample line: {line[:120]!r}")
        name, label_text, value = match.groups()
        labels = frozenset(
            (key, raw.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\"))
            for key, raw in _LABEL.findall(label_text or "")
        )
        samples[(name, labels)] = float(value)
    return samples


def metrics_url(url: str) -> str:
    """A bare ``http://host:port`` gets TF Serving's usual path appended."""
    if re.fullmatch(r"https?://[^/]+/?", url):
        return url.rstrip("/") + DEFAULT_METRICS_PATH
    return url


def scrape(url: str) -> Samples:
    """One read of the endpoint; ClientError (exit 2) when it cannot be read or parsed."""
    try:
        with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as response:
            text = response.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError) as error:
        raise ClientError(ErrorCode.METRICS_UNAVAILABLE, f"cannot read {url}: {error}") from None
    try:
        return parse_exposition(text)
    except ValueError as error:
        raise ClientError(ErrorCode.METRICS_UNAVAILABLE, f"{url}: {error}") from None


@dataclass(frozen=True)
class HistogramDelta:
    """One histogram's growth between two scrapes, summed over the matching series."""

    bounds: tuple[float, ...]  # finite upper bounds, ascending
    cumulative: tuple[float, ...]  # counts <= each bound
    count: float
    total: float

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count > 0 else None

    def quantile(self, q: float) -> float | None:
        """Prometheus ``histogram_quantile``: linear within the bucket holding rank q."""
        if self.count <= 0:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in zip(self.bounds, self.cumulative, strict=True):
            if cumulative >= rank:
                if cumulative == lower_count:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                    cumulative - lower_count
                )
            lower_bound, lower_count = bound, cumulative
        return self.bounds[-1] if self.bounds else None  # in the +Inf bucket: its floor


def histogram_delta(
    before: Samples, after: Samples, name: str, match: Callable[[Labels], bool]
) -> HistogramDelta | None:
    """``after - before`` of histogram ``name`` over series whose labels satisfy ``match``;
    None when the server exports no such series (e.g. batching is off)."""
    buckets: dict[float, float] = {}
    count = total = 0.0
    found = False
    for (sample, labels), value in after.items():
        if not sample.startswith(name) or not match(labels):
            continue
        previous = before.get((sample, labels), 0.0)
        if sample == name + "_bucket":
            le = dict(labels).get("le", "+Inf")
            bound = math.inf if le == "+Inf" else float(le)
            if math.isfinite(bound):
                buckets[bound] = buckets.get(bound, 0.0) + value - previous
        elif sample == name + "_count":
            found = True
            count += value - previous
        elif sample == name + "_sum":
            total += value - previous
    if not found:
        return None
    bounds = tuple(sorted(buckets))
    return HistogramDelta(bounds, tuple(buckets[b] for b in bounds), count, total)


@dataclass(frozen=True)
class ServerBreakdown:
    """What the server says about one step; None where it exports nothing (no batching)
    or where no request was recorded. Latencies in seconds."""

    requests: int
    request_latency_mean_s: float | None
    request_latency_p50_s: float | None
    request_latency_p99_s: float | None
    queue_latency_mean_s: float | None
    queue_latency_p99_s: float | None
    batches: int | None
    batch_size_mean: float | None


def _seconds(microseconds: float | None) -> float | None:
    return None if microseconds is None else microseconds / 1e6


def breakdown(before: Samples, after: Samples, model_name: str) -> ServerBreakdown:
    """The step's server-side figures for ``model_name``'s gRPC Predict calls."""

    def predict_calls(labels: Labels) -> bool:
        named = dict(labels)
        return (
            named.get("model_name") == model_name
            and named.get("API") == "Predict"
            and named.get("entrypoint") == "GRPC"
        )

    def this_model(labels: Labels) -> bool:
        return dict(labels).get("model_name") == model_name

    request = histogram_delta(before, after, REQUEST_LATENCY, predict_calls)
    queue = histogram_delta(before, after, QUEUING_LATENCY, lambda _: True)
    batch = histogram_delta(before, after, BATCH_SIZE, this_model)
    return ServerBreakdown(
        requests=int(request.count) if request else 0,
        request_latency_mean_s=_seconds(request.mean) if request else None,
        request_latency_p50_s=_seconds(request.quantile(0.5)) if request else None,
        request_latency_p99_s=_seconds(request.quantile(0.99)) if request else None,
        queue_latency_mean_s=_seconds(queue.mean) if queue else None,
        queue_latency_p99_s=_seconds(queue.quantile(0.99)) if queue else None,
        batches=int(batch.count) if batch else None,
        batch_size_mean=batch.mean if batch else None,
    )


class MetricsReader:
    """Scrapes one endpoint; ``None`` url makes every read a no-op so callers stay simple."""

    def __init__(self, url: str | None, model_name: str) -> None:
        self.url = metrics_url(url) if url else None
        self._model_name = model_name

    def read(self) -> Samples | None:
        return scrape(self.url) if self.url else None

    def between(self, before: Samples | None, after: Samples | None) -> ServerBreakdown | None:
        if before is None or after is None:
            return None
        return breakdown(before, after, self._model_name)


def as_mapping(server: ServerBreakdown | None) -> Mapping[str, float | int | None]:
    """Flat figures (ms for latencies) for the JSON/CSV rows."""
    if server is None:
        return {}

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 3)

    return {
        "requests": server.requests,
        "request_latency_mean_ms": ms(server.request_latency_mean_s),
        "request_latency_p50_ms": ms(server.request_latency_p50_s),
        "request_latency_p99_ms": ms(server.request_latency_p99_s),
        "queue_latency_mean_ms": ms(server.queue_latency_mean_s),
        "queue_latency_p99_ms": ms(server.queue_latency_p99_s),
        "batches": server.batches,
        "batch_size_mean": None
        if server.batch_size_mean is None
        else round(server.batch_size_mean, 3),
    }
