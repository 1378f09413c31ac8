"""A load test's figures as a table for people, and as JSON and CSV for machines.

Every view is built from one report dict (``report_dict``), one row per load step, so the
table, the CSV, the JSON and the HTML page (``html_report``) never disagree, and a JSON
file can be traced back to the exact settings that produced it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inception_svm_client import files
from inception_svm_client.loadtest.plan import LoadTestPlan
from inception_svm_client.loadtest.server_metrics import as_mapping
from inception_svm_client.loadtest.stats import LatencySummary
from inception_svm_client.loadtest.sweep import PlanResult, StepResult

# 2: rows (one per sweep step) with server-side figures, histogram, gates; 1 was one run.
REPORT_FORMAT_VERSION = 2
HISTOGRAM_BINS = 24


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def latency_ms(latency: LatencySummary | None) -> dict[str, float | int] | None:
    if latency is None:
        return None
    return {
        "count": latency.count,
        "min": _ms(latency.min),
        "mean": _ms(latency.mean),
        "p50": _ms(latency.p50),
        "p90": _ms(latency.p90),
        "p95": _ms(latency.p95),
        "p99": _ms(latency.p99),
        "max": _ms(latency.max),
    }


def latency_histogram_ms(latencies_s: Sequence[float]) -> dict[str, list[float]] | None:
    """Counts over log-spaced bins: latency spreads over decades under overload."""
    if not latencies_s:
        return None
    values = np.asarray(latencies_s, dtype=np.float64) * 1000.0
    low, high = float(values.min()), float(values.max())
    edges = np.geomspace(low, high * 1.0001, HISTOGRAM_BINS + 1) if high > low else None
    counts, bin_edges = np.histogram(values, bins=edges if edges is not None else 1)
    return {
        "edges": [round(float(e), 3) for e in bin_edges],
        "counts": [int(c) for c in counts],
    }


def settings(plan: LoadTestPlan) -> dict[str, Any]:
    config = plan.base
    sweep = None
    if plan.is_sweep:
        sweep = {
            "kind": plan.sweep_kind,
            "levels": list(plan.levels),
            "window_s": plan.windows.window_s,
            "stability_tolerance": plan.windows.tolerance,
            "stable_windows": plan.windows.stable_windows,
            "max_windows": plan.windows.max_windows,
        }
    return {
        "target": config.channel.target,
        "tls": config.channel.tls is not None,
        "model_name": config.target.model_name,
        "signature_name": config.target.signature_name,
        "mode": config.mode,
        "connections": config.connections,
        "max_outstanding": config.max_outstanding if config.open_loop else None,
        "batch_size": config.batch_size,
        "requests": None if plan.is_sweep else config.requests,
        "duration_s": None if plan.is_sweep else config.duration_s,
        "warmup_s": config.warmup_s,
        "deadline_s": config.deadline_s,
        "distinct_images": len(config.images),
        "sweep": sweep,
        "metrics_url": plan.metrics_url,
        "gates": {
            "max_error_rate": plan.gates.max_error_rate,
            "slo_p99_ms": None if plan.gates.slo_p99_s is None else _ms(plan.gates.slo_p99_s),
        },
    }


def row_dict(step: StepResult) -> dict[str, Any]:
    config, summary = step.config, step.summary
    row: dict[str, Any] = {
        "concurrency": None if config.open_loop else config.concurrency,
        "rate": config.rate,
        "window_s": round(summary.window_s, 6),
        "windows": step.windows,
        "stable": step.stable,
        "requests": {
            "measured": summary.requests,
            "ok": summary.requests_ok,
            "failed": summary.requests - summary.requests_ok,
            "warmup_excluded": summary.warmup_requests,
        },
        "images_ok": summary.images_ok,
        "throughput": {
            "requests_per_s": round(summary.requests_per_s, 3),
            "images_per_s": round(summary.images_per_s, 3),
        },
        "latency_ms": latency_ms(summary.latency),
        "latency_histogram_ms": latency_histogram_ms(step.latencies_s),
        "status_counts": summary.status_counts,
        "errors": summary.errors,
        "client_cpu": {
            "seconds": round(summary.client_cpu_s, 4),
            "cores": round(summary.client_cpu_cores, 4),
            "ms_per_request": round(summary.client_cpu_ms_per_request, 4),
        },
        "server": dict(as_mapping(step.server)) if step.server is not None else None,
        "gate_failures": list(step.gate_failures),
    }
    if config.open_loop:
        sends = summary.sends
        row["open_loop"] = {
            "scheduled": sends.scheduled,
            "dropped": sends.dropped,
            "late": sends.late,
            "late_threshold_ms": _ms(config.late_threshold_s),
            "max_lag_ms": _ms(sends.max_lag_s),
        }
    return row


def report_dict(plan: LoadTestPlan, result: PlanResult) -> dict[str, Any]:
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "settings": settings(plan),
        "interrupted": result.interrupted,
        "passed": result.passed,
        "skipped_levels": list(result.skipped_levels),
        "rows": [row_dict(step) for step in result.steps],
    }


# -- flat columns: the table and the CSV -------------------------------------------------


def field_at(row: dict[str, Any], *path: str) -> Any:
    value: Any = row
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# (CSV header, table header, getter, table format)
Column = tuple[str, str, Callable[[dict[str, Any]], Any], str]
COLUMNS: tuple[Column, ...] = (
    ("concurrency", "conc", lambda r: r["concurrency"], "{}"),
    ("rate", "rate/s", lambda r: r["rate"], "{:g}"),
    ("requests_per_s", "req/s", lambda r: field_at(r, "throughput", "requests_per_s"), "{:.1f}"),
    ("images_per_s", "img/s", lambda r: field_at(r, "throughput", "images_per_s"), "{:.1f}"),
    ("latency_min_ms", "min", lambda r: field_at(r, "latency_ms", "min"), "{:.1f}"),
    ("latency_p50_ms", "p50", lambda r: field_at(r, "latency_ms", "p50"), "{:.1f}"),
    ("latency_p90_ms", "p90", lambda r: field_at(r, "latency_ms", "p90"), "{:.1f}"),
    ("latency_p99_ms", "p99", lambda r: field_at(r, "latency_ms", "p99"), "{:.1f}"),
    ("latency_max_ms", "max", lambda r: field_at(r, "latency_ms", "max"), "{:.1f}"),
    (
        "server_latency_mean_ms",
        "srv mean",
        lambda r: field_at(r, "server", "request_latency_mean_ms"),
        "{:.1f}",
    ),
    (
        "server_latency_p99_ms",
        "srv p99~",
        lambda r: field_at(r, "server", "request_latency_p99_ms"),
        "{:.0f}",
    ),
    (
        "queue_latency_mean_ms",
        "queue mean",
        lambda r: field_at(r, "server", "queue_latency_mean_ms"),
        "{:.1f}",
    ),
    ("batch_size_mean", "batch", lambda r: field_at(r, "server", "batch_size_mean"), "{:.2f}"),
    ("failed", "failed", lambda r: field_at(r, "requests", "failed"), "{}"),
    ("client_cpu_cores", "cpu", lambda r: field_at(r, "client_cpu", "cores"), "{:.2f}"),
    ("stable", "stable", lambda r: r["stable"], "{}"),
)


def _visible_columns(report: dict[str, Any]) -> list[Column]:
    """Columns with at least one value: no rate column in a closed loop, no server columns
    without --metrics-url."""
    rows = report["rows"]
    return [c for c in COLUMNS if any(c[2](row) is not None for row in rows)]


def format_table(report: dict[str, Any]) -> str:
    """The header lines, then one line per step (latencies in ms; ``~``: histogram
    estimate), then errors and gate verdicts."""
    settings_ = report["settings"]
    lines = [
        f"target {settings_['target']} model {settings_['model_name']!r}, "
        f"{settings_['mode']} loop, batch {settings_['batch_size']}, "
        f"{settings_['connections']} connection(s)"
    ]
    rows = report["rows"]
    if not rows:
        lines.append("no step was measured")
    else:
        columns = _visible_columns(report)
        cells = [[c[1] for c in columns]]
        for row in rows:
            cells.append(["-" if (v := c[2](row)) is None else c[3].format(v) for c in columns])
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        for line in cells:
            lines.append("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))
    for row in rows:
        label = _level_label(row)
        if row["errors"]:
            errors = ", ".join(f"{code} {n}" for code, n in row["errors"].items())
            lines.append(f"{label}: errors {errors}")
        if "open_loop" in row and (row["open_loop"]["dropped"] or row["open_loop"]["late"]):
            sends = row["open_loop"]
            lines.append(
                f"{label}: {sends['scheduled']} sends due, {sends['dropped']} dropped "
                f"(all slots busy), {sends['late']} late (max lag {sends['max_lag_ms']:.1f} ms)"
            )
        if row["stable"] is False:
            lines.append(f"{label}: not stable within {row['windows']} windows")
        for failure in row["gate_failures"]:
            lines.append(f"{label}: FAILED {failure}")
    if report["skipped_levels"]:
        skipped = ", ".join(f"{level:g}" for level in report["skipped_levels"])
        lines.append(f"not measured (sweep stopped or interrupted): {skipped}")
    if report["interrupted"]:
        lines.append("interrupted: figures cover the part that ran")
    lines.append("result: " + ("PASS" if report["passed"] else "FAIL"))
    return "\n".join(lines)


def _level_label(row: dict[str, Any]) -> str:
    if row["rate"] is not None:
        return f"rate {row['rate']:g}/s"
    return f"concurrency {row['concurrency']}"


def csv_text(report: dict[str, Any]) -> str:
    """One line per step, every column (empty where there is no value)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c[0] for c in COLUMNS])
    for row in report["rows"]:
        writer.writerow(["" if (v := c[2](row)) is None else v for c in COLUMNS])
    return buffer.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Written whole to a sibling and renamed, so a reader never sees half a report; only
    over a regular file or a new name (``files.write_atomically``: a device, a FIFO or a
    symbolic link is refused, never replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomically(path, text, "output")


def json_text(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"
