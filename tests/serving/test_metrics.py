"""Histogram bucket semantics of the Prometheus exposition (no TF, no server)."""

from __future__ import annotations

from inception_svm_serving.metrics import Histogram


def test_histogram_buckets_are_inclusive_upper_bounds_and_cumulative() -> None:
    histogram = Histogram("h", "help", ("model",), (1.0, 2.0, 4.0))
    for value in (0.5, 1.0, 1.5, 2.0, 4.0, 9.0):
        histogram.observe(value, "m")
    lines = histogram.render()
    assert lines[2:] == [
        'h_bucket{model="m",le="1"} 2',
        'h_bucket{model="m",le="2"} 4',
        'h_bucket{model="m",le="4"} 5',
        'h_bucket{model="m",le="+Inf"} 6',
        'h_sum{model="m"} 18.0',
        'h_count{model="m"} 6',
    ]
