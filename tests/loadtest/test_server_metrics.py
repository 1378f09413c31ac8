"""The client's reading of TF Serving's Prometheus text, checked against the exposition our
stand-in really writes (``inception_svm_serving.observability.metrics``, TF Serving's names
and buckets)."""

from __future__ import annotations

import pytest

from inception_svm_client.loadtest.server_metrics import (
    BATCH_SIZE,
    QUEUING_LATENCY,
    REQUEST_LATENCY,
    breakdown,
    histogram_delta,
    metrics_url,
    parse_exposition,
)
from inception_svm_serving.observability.metrics import ServerMetrics

MODEL = "inception_v1"


def exposition(metrics: ServerMetrics) -> str:
    return metrics.exposition().decode("utf-8")


def test_names_are_tf_servings() -> None:
    """The three families TF Serving registers as /tensorflow/serving/..., '/' → ':'."""
    assert REQUEST_LATENCY == ":tensorflow:serving:request_latency"
    assert QUEUING_LATENCY == ":tensorflow:serving:batching_session:queuing_latency"
    assert BATCH_SIZE == ":tensorflow:serving:batching:batch_size"


def test_breakdown_is_the_difference_between_two_scrapes() -> None:
    metrics = ServerMetrics()
    observer = metrics.batch_observer(MODEL, "serving_default")
    metrics.record_request(MODEL, "Predict", "GRPC", "OK", 5.0)  # before: excluded
    before = parse_exposition(exposition(metrics))
    for seconds in (0.100, 0.200, 0.300):
        metrics.record_request(MODEL, "Predict", "GRPC", "OK", seconds)
    metrics.record_request(MODEL, "GetModelMetadata", "GRPC", "OK", 9.0)  # other API
    metrics.record_request("other", "Predict", "GRPC", "OK", 9.0)  # other model
    observer.task_dequeued(0.010)
    observer.task_dequeued(0.030)
    observer.batch_processed(3, 4)
    observer.batch_processed(1, 1)
    after = parse_exposition(exposition(metrics))

    server = breakdown(before, after, MODEL)
    assert server.requests == 3
    assert server.request_latency_mean_s == pytest.approx(0.200)
    assert server.request_latency_p50_s is not None
    # A bucket estimate: within the 1.8x bucket around the true value.
    assert 0.200 / 1.8 <= server.request_latency_p50_s <= 0.200 * 1.8
    assert server.queue_latency_mean_s == pytest.approx(0.020)
    assert server.batches == 2
    assert server.batch_size_mean == pytest.approx(2.0)


def test_without_batching_the_queue_and_batch_columns_are_absent() -> None:
    metrics = ServerMetrics()
    before = parse_exposition(exposition(metrics))
    metrics.record_request(MODEL, "Predict", "GRPC", "OK", 0.05)
    server = breakdown(before, parse_exposition(exposition(metrics)), MODEL)
    assert server.requests == 1
    assert server.queue_latency_mean_s is None and server.batch_size_mean is None


def test_quantile_interpolates_within_a_bucket() -> None:
    text = "\n".join(
        [
            'h_bucket{le="10"} 0',
            'h_bucket{le="20"} 10',
            'h_bucket{le="+Inf"} 10',
            "h_sum 150",
            "h_count 10",
        ]
    )
    delta = histogram_delta({}, parse_exposition(text), "h", lambda _: True)
    assert delta is not None
    assert delta.quantile(0.5) == pytest.approx(15.0)
    assert delta.mean == pytest.approx(15.0)


def test_label_values_are_unescaped_and_garbage_is_refused() -> None:
    samples = parse_exposition('m{path="a\\"b\\\\c"} 2\n')
    ((name, labels),) = samples
    assert name == "m" and dict(labels) == {"path": 'a"b\\c'}
    with pytest.raises(ValueError, match="not a Prometheus sample"):
        parse_exposition("{}{} nonsense here\n")


def test_bare_rest_address_gets_the_monitoring_path() -> None:
    assert metrics_url("http://h:8501") == "http://h:8501/monitoring/prometheus/metrics"
    assert metrics_url("http://h:8501/custom") == "http://h:8501/custom"
