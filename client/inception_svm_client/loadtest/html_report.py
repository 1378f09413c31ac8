"""The report as one self-contained HTML page with plotly charts.

plotly.js is embedded in the page (no CDN), so the file opens offline, attached to a CI
run or mailed around. plotly comes with the ``report`` extra
(``pip install 'inception-svm-client[report]'``): the thin client's base install stays
free of it, and asking for ``--html`` without it is a usage error, not a crash.
"""

from __future__ import annotations

import html
import itertools
import json
import math
from typing import Any

from inception_svm_client.loadtest.result_formats import field_at, format_table

REPORT_EXTRA = "pip install 'inception-svm-client[report]'"


def plotly_available() -> bool:
    try:
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


def _levels(report: dict[str, Any]) -> tuple[str, list[float]]:
    rows = report["rows"]
    if report["settings"]["mode"] == "open":
        return "request rate (requests/s)", [row["rate"] for row in rows]
    return "concurrency (callers)", [row["concurrency"] for row in rows]


def log_axis_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks per decade, each labelled with its whole value: plotly's own log ticks
    label the minor ones with their first digit only, which reads "... 9 100 2"."""
    if low <= 0 or high <= low:
        return [v for v in (low, high) if v > 0]
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = float(f"{mantissa}e{exponent}")
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _figures(report: dict[str, Any]) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    rows = report["rows"]
    x_title, levels = _levels(report)
    log_x = len(levels) > 2 and levels[-1] / max(levels[0], 1e-9) >= 8
    layout = {
        "template": "plotly_white",
        "height": 420,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "xaxis": {
            "title": {"text": x_title},
            "type": "log" if log_x else "linear",
            "tickvals": levels,  # ticks at the measured levels, not at every decade digit
        },
        "legend": {"orientation": "h", "y": -0.2},
    }

    latency = go.Figure(layout={**layout, "title": {"text": "Latency (ms): client and server"}})
    series = (
        ("client p50", ("latency_ms", "p50"), "solid"),
        ("client p90", ("latency_ms", "p90"), "solid"),
        ("client p99", ("latency_ms", "p99"), "solid"),
        ("server request mean", ("server", "request_latency_mean_ms"), "dash"),
        ("server request p99 (bucket estimate)", ("server", "request_latency_p99_ms"), "dash"),
        ("server batching queue mean", ("server", "queue_latency_mean_ms"), "dot"),
    )
    for name, path, dash in series:
        values = [field_at(row, *path) for row in rows]
        if any(v is not None for v in values):
            latency.add_trace(
                go.Scatter(x=levels, y=values, name=name, mode="lines+markers", line={"dash": dash})
            )
    latency.update_yaxes(title_text="ms", rangemode="tozero")

    throughput = go.Figure(layout={**layout, "title": {"text": "Throughput"}})
    for name, key in (("requests/s", "requests_per_s"), ("images/s", "images_per_s")):
        throughput.add_trace(
            go.Scatter(
                x=levels,
                y=[field_at(row, "throughput", key) for row in rows],
                name=name,
                mode="lines+markers",
            )
        )
    throughput.update_yaxes(title_text="per second", rangemode="tozero")

    histogram = go.Figure(
        layout={
            **layout,
            "title": {"text": "Latency histogram (successful requests, log bins)"},
            "xaxis": {"title": {"text": "latency (ms)"}, "type": "log"},
            "barmode": "overlay",
        }
    )
    for row, level in zip(rows, levels, strict=True):
        bins = row["latency_histogram_ms"]
        if bins is None:
            continue
        edges, counts = bins["edges"], bins["counts"]
        centres = [math.sqrt(a * b) for a, b in itertools.pairwise(edges)]
        label = f"{level:g}/s" if report["settings"]["mode"] == "open" else f"{level} callers"
        histogram.add_trace(
            go.Scatter(x=centres, y=counts, name=label, mode="lines", line={"shape": "hvh"})
        )
    histogram.update_yaxes(title_text="requests", rangemode="tozero")
    all_edges = [
        e
        for row in rows
        if row["latency_histogram_ms"]
        for e in row["latency_histogram_ms"]["edges"]
    ]
    if all_edges:
        ticks = log_axis_ticks(min(all_edges), max(all_edges))
        histogram.update_xaxes(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    return [("latency", latency), ("throughput", throughput), ("histogram", histogram)]


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
pre { background: #f6f6f6; padding: 12px; overflow-x: auto; font-size: 13px; }
.verdict-pass { color: #1a7f37; } .verdict-fail { color: #c62828; }
.plot { max-width: 1100px; }
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole page: verdict, the text table, the three charts, the settings as JSON."""
    parts = []
    for index, (name, figure) in enumerate(_figures(report)):
        parts.append(
            f'<div class="plot" id="plot-{name}">'
            + figure.to_html(
                full_html=False,
                include_plotlyjs=index == 0,  # the library once, inline: works offline
                div_id=f"chart-{name}",
                config={"displaylogo": False},
            )
            + "</div>"
        )
    settings = report["settings"]
    verdict = "PASS" if report["passed"] else "FAIL"
    title = f"inception-svm loadtest: {settings['target']} ({settings['model_name']})"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<h2 class='verdict-{verdict.lower()}' id='verdict'>{verdict}</h2>"
        f"<pre id='table'>{html.escape(format_table(report))}</pre>"
        + "".join(parts)
        + "<h2>Settings</h2>"
        f"<pre id='settings'>{html.escape(json.dumps(settings, indent=2))}</pre>"
        f"<p>report format {report['format_version']}</p></body></html>\n"
    )
