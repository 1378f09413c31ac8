"""A concurrency sweep end to end: the CLI against the stand-in with production batching,
its rows, the server-side columns from TF Serving's metrics, the CSV and the HTML page in
headless Chromium. One sweep (three steps of 1 s windows) feeds every test here."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inception_svm_client.cli import main
from inception_svm_client.commands import EXIT_OK
from tests.browser import dump_dom, screenshot
from tests.harness import ServerHandle


@dataclass(frozen=True)
class Sweep:
    code: int
    report: dict[str, Any]
    csv_rows: list[dict[str, str]]
    html: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def sweep(
    batching_server: ServerHandle,
    tmp_path_factory: pytest.TempPathFactory,
) -> Sweep:
    out = tmp_path_factory.mktemp("sweep")
    return _run_sweep(batching_server, out)


def _run_sweep(server: ServerHandle, out: Path) -> Sweep:
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = [
        "loadtest",
        "--server", server.grpc_target,
        "--metrics-url", server.rest_url,
        "--concurrency-range", "1:4:x2",
        "--window", "1",
        "--stability", "0.5",
        "--max-windows", "8",
        "--warmup", "0.5",
        "--output", str(out / "sweep.json"),
        "--csv", str(out / "sweep.csv"),
        "--html", str(out / "sweep.html"),
    ]  # fmt: skip
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    report = json.loads((out / "sweep.json").read_text())
    csv_rows = list(csv.DictReader((out / "sweep.csv").open()))
    return Sweep(code, report, csv_rows, out / "sweep.html", stdout.getvalue(), stderr.getvalue())


def test_three_steps_give_three_stable_rows_with_server_columns(sweep: Sweep) -> None:
    assert sweep.code == EXIT_OK, sweep.stdout + sweep.stderr
    report = sweep.report
    assert report["format_version"] == 2
    assert report["passed"] is True
    assert [row["concurrency"] for row in report["rows"]] == [1, 2, 4]
    for row in report["rows"]:
        assert row["stable"] is True, row
        assert 3 <= row["windows"] <= 8
        assert row["window_s"] == pytest.approx(3.0, abs=0.3)  # the 3 stable windows
        measured = row["requests"]["measured"]
        assert measured == row["requests"]["ok"] > 0
        latency = row["latency_ms"]
        assert 0 < latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"]
        assert sum(row["latency_histogram_ms"]["counts"]) == measured
        server = row["server"]
        # The server counted the same calls, give or take those in flight at a boundary,
        # and spent at most the client's time on each: its mean (over a set that differs at
        # the boundaries, so not compared with the client's mean) stays within the slowest
        # client call, which catches unit or histogram errors without flaking on a busy box.
        # In flight at a boundary: up to `concurrency` calls at the window's start and as many
        # at its end, each counted on one side only.
        assert abs(server["requests"] - measured) <= 2 * row["concurrency"] + 1
        assert 0 < server["request_latency_mean_ms"] <= latency["max"]
        assert server["queue_latency_mean_ms"] is not None  # batching is on
        assert 1.0 <= server["batch_size_mean"] <= row["concurrency"]
    # Window lines went to stderr while it ran; the table to stdout.
    assert "concurrency 4: window 3/8" in sweep.stderr
    assert "srv mean" in sweep.stdout and "result: PASS" in sweep.stdout


def test_csv_has_one_line_per_step_matching_the_json(sweep: Sweep) -> None:
    assert [r["concurrency"] for r in sweep.csv_rows] == ["1", "2", "4"]
    for line, row in zip(sweep.csv_rows, sweep.report["rows"], strict=True):
        assert float(line["latency_p99_ms"]) == row["latency_ms"]["p99"]
        assert float(line["server_latency_mean_ms"]) == row["server"]["request_latency_mean_ms"]


def test_html_report_renders_its_plots_in_headless_chromium(sweep: Sweep, tmp_path: Path) -> None:
    page = sweep.html.read_text()
    assert "<script src=" not in page  # self-contained: plotly.js is inline
    dom = dump_dom(sweep.html).output
    # plotly draws each chart into an <svg class="main-svg">; no chart, no svg.
    for chart in ("chart-latency", "chart-throughput", "chart-histogram"):
        start = dom.index(f'id="{chart}"')
        assert 'class="main-svg"' in dom[start : start + 20_000], chart
    assert dom.count('class="scatterlayer') >= 3
    assert "result: PASS" in dom
    png = Path(screenshot(sweep.html, tmp_path / "report.png", width=1200, height=2400).output)
    assert png.stat().st_size > 20_000  # a blank page compresses to a few kB
