"""The load test's arithmetic, checked against numpy and hand-computed windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inception_svm_client.loadtest.stats import (
    RequestOutcome,
    SendCounters,
    percentile,
    summarize,
    summarize_latencies,
)

samples = st.lists(
    st.floats(min_value=0.0, max_value=1e4, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


@given(values=samples, q=st.floats(min_value=0.0, max_value=100.0))
def test_percentile_matches_numpy_linear(values: list[float], q: float) -> None:
    expected = float(np.percentile(np.asarray(values), q))
    assert percentile(sorted(values), q) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(values=samples)
def test_latency_summary_is_ordered_and_matches_numpy(values: list[float]) -> None:
    summary = summarize_latencies(values)
    assert summary is not None
    assert summary.count == len(values)
    assert summary.p50 <= summary.p90 <= summary.p95 <= summary.p99 <= summary.max
    assert summary.max == max(values)
    assert summary.p99 == pytest.approx(float(np.percentile(values, 99)), rel=1e-9, abs=1e-9)
    assert summary.mean == pytest.approx(float(np.mean(values)), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("q", [-0.1, 100.5])
def test_percentile_rejects_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match="within"):
        percentile([1.0, 2.0], q)


def test_percentile_of_nothing_is_an_error_and_summary_is_none() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
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
