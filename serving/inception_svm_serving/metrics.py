"""Prometheus metrics, named after tensorflow_model_server's own where one exists.

Names (prometheus_client adds ``_total`` to counters, ``_bucket/_sum/_count`` to histograms):
- ``:tensorflow:serving:request_count{model_name,signature_name,API,entrypoint,status}``
- ``:tensorflow:serving:request_latency{model_name,signature_name,API,entrypoint}`` (µs)
- ``:tensorflow:serving:batching_session:processed_batch_size{model_name,signature_name}``
  (real rows per executed batch) and ``...:padding_size``
- ``:tensorflow:serving:batching_session:queuing_latency{model_name,signature_name}`` (µs)
- ``:tensorflow:cc:saved_model:load_latency{model_name}`` and
  ``:tensorflow:serving:model_warmup_latency{model_name}`` (µs)
A private registry keeps tests and several servers in one process from sharing counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_LATENCY_BUCKETS_US = tuple(
    float(b) for b in (500, 1e3, 2.5e3, 5e3, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 1e7)
)
_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024)
_LOAD_BUCKETS_US = tuple(float(b) for b in (1e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 3e7, 6e7, 1.2e8))


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        request_labels = ("model_name", "signature_name", "API", "entrypoint")
        self.request_count = Counter(
            ":tensorflow:serving:request_count",
            "Requests by model, signature, API, entrypoint and final status code.",
            (*request_labels, "status"),
            registry=self.registry,
        )
        self.request_latency = Histogram(
            ":tensorflow:serving:request_latency",
            "End-to-end request latency in microseconds.",
            request_labels,
            buckets=_LATENCY_BUCKETS_US,
            registry=self.registry,
        )
        batch_labels = ("model_name", "signature_name")
        self.batch_size = Histogram(
            ":tensorflow:serving:batching_session:processed_batch_size",
            "Real (unpadded) rows in each executed batch.",
            batch_labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.padding_size = Histogram(
            ":tensorflow:serving:batching_session:padding_size",
            "Padding rows added to reach an allowed batch size.",
            batch_labels,
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queuing_latency = Histogram(
            ":tensorflow:serving:batching_session:queuing_latency",
            "Time a task waited in the batch queue, microseconds.",
            batch_labels,
            buckets=_LATENCY_BUCKETS_US,
            registry=self.registry,
        )
        self.load_latency = Histogram(
            ":tensorflow:cc:saved_model:load_latency",
            "SavedModel load time, microseconds.",
            ("model_name",),
            buckets=_LOAD_BUCKETS_US,
            registry=self.registry,
        )
        self.warmup_latency = Histogram(
            ":tensorflow:serving:model_warmup_latency",
            "Warmup replay time, microseconds.",
            ("model_name",),
            buckets=_LOAD_BUCKETS_US,
            registry=self.registry,
        )

    def batch_observer(self, model_name: str, signature_name: str) -> BatchMetrics:
        return BatchMetrics(self, model_name, signature_name)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class BatchMetrics:
    """The batching scheduler's observer for one (model, signature)."""

    def __init__(self, metrics: ServerMetrics, model_name: str, signature_name: str) -> None:
        self._size = metrics.batch_size.labels(model_name, signature_name)
        self._padding = metrics.padding_size.labels(model_name, signature_name)
        self._queuing = metrics.queuing_latency.labels(model_name, signature_name)

    def batch_processed(self, batch_size: int, padded_size: int) -> None:
        self._size.observe(batch_size)
        self._padding.observe(padded_size - batch_size)

    def task_dequeued(self, queued_seconds: float) -> None:
        self._queuing.observe(queued_seconds * 1e6)
