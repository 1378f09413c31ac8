"""Prometheus metrics with tensorflow_model_server's exact names, labels and types.

The real server exports TF's monitoring cells through its Prometheus exporter, which turns
``/tensorflow/serving/request_count`` into ``:tensorflow:serving:request_count`` and adds no
``_total`` suffix; prometheus_client would add one, so dashboards, alerts and the HPA rule
written against the real server would miss the stand-in. This module therefore renders the
text exposition format itself. Exported (µs = microseconds):

- ``:tensorflow:serving:request_count{model_name,status}`` counter (status: OK or the gRPC
  code name)
- ``:tensorflow:serving:request_latency{model_name,API,entrypoint}`` histogram, µs
  (API: Predict, GetModelMetadata, GetModelStatus, ...; entrypoint: GRPC or REST)
- ``:tensorflow:serving:batching_session:queuing_latency{thread_pool_name}`` histogram, µs
- ``:tensorflow:serving:batching_session:wrapped_run_count`` counter (executed batches)
- ``:tensorflow:serving:batching:batch_size{model_name,op_name}`` histogram of real (unpadded)
  rows per executed batch; the stand-in puts the signature name in ``op_name``
- ``:tensorflow:serving:batching:padding_size{model_name,execution_batch_size}`` histogram
- ``:tensorflow:serving:model_warmup_latency{model_path,status}`` histogram, µs
- ``:tensorflow:cc:saved_model:load_latency{model_path}`` counter, µs of successful loads
- ``:tensorflow:cc:saved_model:load_attempt_count{model_path,status}`` counter
  (status: success | fail)
Bucket bounds follow TF Serving's (exponential scale/growth/count given below).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from pathlib import Path

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"


def exponential_buckets(scale: float, growth: float, count: int) -> tuple[float, ...]:
    return tuple(scale * growth**i for i in range(count))


_LATENCY_BUCKETS_US = exponential_buckets(10, 1.8, 33)
_QUEUING_BUCKETS_US = exponential_buckets(100, 1.2, 52)
_BATCH_SIZE_BUCKETS = exponential_buckets(1, 1.5, 20)
_PADDING_BUCKETS = exponential_buckets(1, 2, 14)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    # 12 significant digits: bucket bounds like 10*1.8**2 print as 32.4, not 32.400000000000006
    return f"{value:.12g}"


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


class Counter:
    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        self.name, self.help_text, self.label_names = name, help_text, tuple(label_names)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} counter"]
        with self._lock:
            items = sorted(self._values.items())
        for labels, value in items:
            lines.append(f"{self.name}{_labels(self.label_names, labels)} {_number(value)}")
        return lines


class Histogram:
    def __init__(
        self,
        name: str,
        help_text: str,
        label_names: Sequence[str],
        buckets: Sequence[float],
    ) -> None:
        self.name, self.help_text, self.label_names = name, help_text, tuple(label_names)
        self._bounds = tuple(buckets)  # ascending, as bisect in observe needs
        self._cells: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., sum, count
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            cell = self._cells.setdefault(labels, [0.0] * (len(self._bounds) + 2))
            index = bisect.bisect_left(self._bounds, value)  # first bound >= value: le inclusive
            if index < len(self._bounds):  # else only the +Inf bucket, i.e. the count
                cell[index] += 1
            cell[-2] += value
            cell[-1] += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} histogram"]
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._cells.items())
        for labels, cell in items:
            cumulative = 0.0
            counts = (*cell[:-2], cell[-1])  # finite buckets, then +Inf = every observation
            for bound, count in zip((*self._bounds, float("inf")), counts, strict=True):
                cumulative = count if bound == float("inf") else cumulative + count
                le = f'le="{_number(bound)}"'
                lines.append(
                    f"{self.name}_bucket{_labels(self.label_names, labels, le)} "
                    f"{_number(cumulative)}"
                )
            total_count = cell[-1]
            lines.append(f"{self.name}_sum{_labels(self.label_names, labels)} {cell[-2]!r}")
            lines.append(
                f"{self.name}_count{_labels(self.label_names, labels)} {_number(total_count)}"
            )
        return lines


class ServerMetrics:
    """Every metric of one server; a fresh instance per server keeps tests independent."""

    def __init__(self) -> None:
        self.request_count = Counter(
            ":tensorflow:serving:request_count",
            "The total number of requests.",
            ("model_name", "status"),
        )
        self.request_latency = Histogram(
            ":tensorflow:serving:request_latency",
            "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            ("model_name", "API", "entrypoint"),
            _LATENCY_BUCKETS_US,
        )
        self.queuing_latency = Histogram(
            ":tensorflow:serving:batching_session:queuing_latency",
            "Distribution of wall time spent (in microseconds) in queuing",
            ("thread_pool_name",),
            _QUEUING_BUCKETS_US,
        )
        self.wrapped_run_count = Counter(
            ":tensorflow:serving:batching_session:wrapped_run_count",
            "Total count of run calls on the wrapped session",
        )
        self.batch_size = Histogram(
            ":tensorflow:serving:batching:batch_size",
            "Tracks the batch size distribution on the batch result by model_name.",
            ("model_name", "op_name"),
            _BATCH_SIZE_BUCKETS,
        )
        self.padding_size = Histogram(
            ":tensorflow:serving:batching:padding_size",
            "Tracks the padding size distribution on batches by model_name.",
            ("model_name", "execution_batch_size"),
            _PADDING_BUCKETS,
        )
        self.warmup_latency = Histogram(
            ":tensorflow:serving:model_warmup_latency",
            "Distribution of wall time (in microseconds) for warming up the model.",
            ("model_path", "status"),
            _LATENCY_BUCKETS_US,
        )
        self.load_latency = Counter(
            ":tensorflow:cc:saved_model:load_latency",
            "Latency in microseconds for SavedModels that were successfully loaded.",
            ("model_path",),
        )
        self.load_attempt_count = Counter(
            ":tensorflow:cc:saved_model:load_attempt_count",
            "The number of times a SavedModel was successfully loaded.",
            ("model_path", "status"),
        )
        self._families: tuple[Counter | Histogram, ...] = (
            self.request_count,
            self.request_latency,
            self.queuing_latency,
            self.wrapped_run_count,
            self.batch_size,
            self.padding_size,
            self.warmup_latency,
            self.load_latency,
            self.load_attempt_count,
        )

    def record_request(
        self, model_name: str, api: str, entrypoint: str, status: str, seconds: float
    ) -> None:
        """Like TF Serving (``prediction_service_impl.cc``, ``http_server.cc``): every request
        counts by status, its latency is observed only when it succeeded."""
        self.request_count.inc(model_name, status)
        if status == "OK":
            self.request_latency.observe(seconds * 1e6, model_name, api, entrypoint)

    def observe_load(self, model_path: Path, seconds: float | None) -> None:
        """``seconds`` None: the attempt failed."""
        if seconds is None:
            self.load_attempt_count.inc(str(model_path), "fail")
            return
        self.load_attempt_count.inc(str(model_path), "success")
        self.load_latency.inc(str(model_path), amount=seconds * 1e6)

    def observe_warmup(self, model_path: Path, seconds: float, ok: bool) -> None:
        self.warmup_latency.observe(seconds * 1e6, str(model_path), "OK" if ok else "ERROR")

    def batch_observer(self, model_name: str, signature_name: str) -> BatchMetrics:
        return BatchMetrics(self, model_name, signature_name)

    def exposition(self) -> bytes:
        lines = [line for family in self._families for line in family.render()]
        return ("\n".join(lines) + "\n").encode("utf-8")


class BatchMetrics:
    """The batching scheduler's observer for one (model, signature)."""

    THREAD_POOL_NAME = "batch_threads"  # TF Serving's default BatchingParameters name

    def __init__(self, metrics: ServerMetrics, model_name: str, signature_name: str) -> None:
        self._metrics = metrics
        self._model_name = model_name
        self._signature_name = signature_name

    def batch_processed(self, batch_size: int, padded_size: int) -> None:
        self._metrics.wrapped_run_count.inc()
        self._metrics.batch_size.observe(batch_size, self._model_name, self._signature_name)
        self._metrics.padding_size.observe(
            padded_size - batch_size, self._model_name, str(padded_size)
        )

    def task_dequeued(self, queued_seconds: float) -> None:
        self._metrics.queuing_latency.observe(queued_seconds * 1e6, self.THREAD_POOL_NAME)
