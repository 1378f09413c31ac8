"""The load test's arithmetic, checked against hand-computed percentiles and windows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inception_svm_client.loadtest.plan import LevelRange
from inception_svm_client.loadtest.stats import (
    RequestOutcome,
    RunSummary,
    SendCounters,
    summarize,
    summarize_latencies,
)
from inception_svm_client.loadtest.sweep import is_stable

samples = st.lists(
    st.floats(min_value=0.0, max_value=1e4, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


@pytest.mark.parametrize(
    ("latencies", "mean", "p50", "p90", "p95", "p99"),
    [
        # One sample: every percentile is that sample.
        ([0.25], 0.25, 0.25, 0.25, 0.25, 0.25),
        # Two samples: linear interpolation between them (numpy's default method, what a
        # notebook would print), not the nearest rank.
        ([10.0, 0.0], 5.0, 5.0, 9.0, 9.5, 9.9),
        # 1..101: the q-th percentile is exactly sample q + 1, whatever the input order.
        ([float(v) for v in range(101, 0, -1)], 51.0, 51.0, 91.0, 96.0, 100.0),
        # Ties and an outlier: the outlier moves p99 but not the median.
        ([1.0] * 99 + [101.0], 2.0, 1.0, 1.0, 1.0, 2.0),
    ],
)
def test_latency_percentiles_of_known_samples(
    latencies: list[float], mean: float, p50: float, p90: float, p95: float, p99: float
) -> None:
    summary = summarize_latencies(latencies)
    assert summary is not None
    assert (summary.p50, summary.p90, summary.p95, summary.p99) == pytest.approx(
        (p50, p90, p95, p99), rel=1e-12, abs=1e-12
    )
    assert (summary.min, summary.max) == (min(latencies), max(latencies))
    assert summary.mean == pytest.approx(mean, rel=1e-12)
    assert type(summary.p50) is float  # plain floats, so reports serialise them as numbers


@given(values=samples)
def test_latency_summary_is_ordered_and_bounded(values: list[float]) -> None:
    summary = summarize_latencies(values)
    assert summary is not None
    assert summary.count == len(values)
    assert summary.min <= summary.p50 <= summary.p90 <= summary.p95 <= summary.p99 <= summary.max
    assert (summary.min, summary.max) == (min(values), max(values))
    assert summarize_latencies(reversed(values)) == summary  # order of arrival is irrelevant


def test_summary_of_no_latencies_is_none() -> None:
    assert summarize_latencies([]) is None


def test_summary_excludes_warmup_and_counts_errors_by_status() -> None:
    outcomes = [
        RequestOutcome(sent_at=0.0, latency_s=5.0, images=4, warmup=True),
        RequestOutcome(sent_at=1.0, latency_s=0.5, images=4),
        RequestOutcome(sent_at=1.5, latency_s=0.5, images=4),
        RequestOutcome(sent_at=2.0, latency_s=1.0, images=4, status="DEADLINE_EXCEEDED"),
        RequestOutcome(sent_at=2.5, latency_s=0.5, images=4, status="UNAVAILABLE"),
        RequestOutcome(sent_at=2.5, latency_s=0.5, images=4, status="UNAVAILABLE"),
    ]
    summary = summarize(outcomes, client_cpu_s=0.6, sends=SendCounters(scheduled=5, dropped=1))
    # Window: first measured send (1.0) to last measured completion (3.0); the warm-up
    # request still running until 5.0 neither counts nor stretches it.
    assert summary.window_s == pytest.approx(2.0)
    assert summary.warmup_requests == 1
    assert summary.requests == 5
    assert summary.requests_ok == 2
    assert summary.images_ok == 8
    assert summary.requests_per_s == pytest.approx(1.0)
    assert summary.images_per_s == pytest.approx(4.0)
    assert summary.status_counts == {"DEADLINE_EXCEEDED": 1, "OK": 2, "UNAVAILABLE": 2}
    assert summary.errors == {"DEADLINE_EXCEEDED": 1, "UNAVAILABLE": 2}
    assert summary.latency is not None
    assert summary.latency.count == 2  # latency of successful requests only
    assert summary.latency.max == pytest.approx(0.5)
    assert summary.client_cpu_cores == pytest.approx(0.3)
    assert summary.client_cpu_ms_per_request == pytest.approx(120.0)
    assert summary.sends.dropped == 1


def test_summary_of_a_run_with_nothing_measured() -> None:
    summary = summarize(
        [RequestOutcome(sent_at=0.0, latency_s=0.1, images=1, warmup=True)], client_cpu_s=0.0
    )
    assert summary.requests == 0
    assert summary.window_s == 0.0
    assert summary.requests_per_s == 0.0
    assert summary.latency is None
    assert summary.client_cpu_cores == 0.0


def test_window_counts_requests_finished_inside_it() -> None:
    outcomes = [
        RequestOutcome(sent_at=0.0, latency_s=0.5, images=1),  # finishes 0.5: before
        RequestOutcome(sent_at=0.8, latency_s=0.5, images=1),  # 1.3: inside
        RequestOutcome(sent_at=1.5, latency_s=0.4, images=1),  # 1.9: inside
        RequestOutcome(sent_at=1.9, latency_s=0.2, images=1),  # 2.1: after
    ]
    summary = summarize(outcomes, client_cpu_s=0.0, window=(1.0, 2.0))
    assert summary.requests == 2
    assert summary.window_s == 1.0
    assert summary.requests_per_s == 2.0
    assert summary.latency is not None and summary.latency.min == 0.4


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("1:64:x2", (1, 2, 4, 8, 16, 32, 64)),
        ("1:10:4", (1, 5, 9, 10)),  # END is always measured
        ("2:2", (2,)),
        ("10:30:10", (10, 20, 30)),
    ],
)
def test_level_ranges(text: str, levels: tuple[float, ...]) -> None:
    assert LevelRange.parse(text).levels() == levels


def test_stability_needs_throughput_and_latency_to_agree() -> None:
    def window(rate: float, mean_s: float | None) -> RunSummary:
        ok = int(rate)
        outcomes = [RequestOutcome(sent_at=0.0, latency_s=mean_s or 0.1, images=1)] * ok
        if mean_s is None:
            outcomes = [RequestOutcome(sent_at=0.0, latency_s=0.1, images=1, status="X")] * 5
        return summarize(outcomes, client_cpu_s=0.0, window=(0.0, 1.0))

    assert is_stable([window(10, 0.1), window(11, 0.105), window(10, 0.1)], 0.1)
    assert not is_stable([window(10, 0.1), window(15, 0.1), window(10, 0.1)], 0.1)
    assert not is_stable([window(10, 0.1), window(10, 0.2), window(10, 0.1)], 0.1)
    assert is_stable([window(0, None)] * 3, 0.1)  # all failing: stable at zero
