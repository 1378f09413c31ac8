"""The latency histogram's log axis is labelled with whole values (1-2-5 per decade), not
plotly's first-digit minor labels ("... 9 100 2")."""

from __future__ import annotations

import pytest

from inception_svm_client.loadtest.html_report import log_axis_ticks


def test_ticks_are_1_2_5_per_decade_within_the_range() -> None:
    assert log_axis_ticks(3.2, 260.0) == [5.0, 10.0, 20.0, 50.0, 100.0, 200.0]
    assert [f"{t:g}" for t in log_axis_ticks(0.15, 1.2)] == ["0.2", "0.5", "1"]


@pytest.mark.parametrize(("low", "high"), [(0.0, 5.0), (4.0, 4.0)])
def test_degenerate_ranges_do_not_fail(low: float, high: float) -> None:
    assert log_axis_ticks(low, high) == [v for v in (low, high) if v > 0]


def test_the_histogram_uses_them() -> None:
    pytest.importorskip("plotly")
    from inception_svm_client.loadtest import html_report

    # The fields the charts read from a report row (format_version 2); missing ones are None.
    row = {
        "concurrency": 4,
        "latency_histogram_ms": {"edges": [4.0, 8.0, 16.0, 32.0, 64.0], "counts": [1, 5, 2, 1]},
    }
    report = {"settings": {"mode": "closed"}, "rows": [row]}
    figures = dict(html_report._figures(report))
    axis = figures["histogram"].layout.xaxis
    assert list(axis.tickvals) == [5.0, 10.0, 20.0, 50.0]
    assert list(axis.ticktext) == ["5", "10", "20", "50"]
