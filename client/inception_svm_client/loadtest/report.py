"""A load test's figures as a terminal table for people and as JSON for machines.

Both views come from the same ``RunSummary`` plus the settings that produced it, so a
JSON report can always be traced back to the exact run (mode, concurrency, batch, target).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inception_svm_client.loadtest.config import LoadTestConfig
from inception_svm_client.loadtest.stats import LatencySummary, RunSummary

REPORT_FORMAT_VERSION = 1


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def latency_ms(latency: LatencySummary | None) -> dict[str, float | int] | None:
    if latency is None:
        return None
    return {
        "count": latency.count,
        "mean": _ms(latency.mean),
        "p50": _ms(latency.p50),
        "p90": _ms(latency.p90),
        "p95": _ms(latency.p95),
        "p99": _ms(latency.p99),
        "max": _ms(latency.max),
    }


def settings(config: LoadTestConfig) -> dict[str, Any]:
    return {
        "target": config.channel.target,
        "tls": config.channel.tls is not None,
        "model_name": config.signature.model_name,
        "signature_name": config.signature.signature_name,
        "mode": config.mode,
        "concurrency": None if config.open_loop else config.concurrency,
        "rate": config.rate,
        "max_outstanding": config.max_outstanding if config.open_loop else None,
        "batch_size": config.batch_size,
        "requests": config.requests,
        "duration_s": config.duration_s,
        "warmup_s": config.warmup_s,
        "deadline_s": config.deadline_s,
        "distinct_images": len(config.images),
    }


def report_dict(
    config: LoadTestConfig, summary: RunSummary, *, interrupted: bool
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "format_version": REPORT_FORMAT_VERSION,
        "settings": settings(config),
        "interrupted": interrupted,
        "window_s": round(summary.window_s, 6),
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
        "status_counts": summary.status_counts,
        "errors": summary.errors,
        "client_cpu": {
            "seconds": round(summary.client_cpu_s, 4),
            "cores": round(summary.client_cpu_cores, 4),
            "ms_per_request": round(summary.client_cpu_ms_per_request, 4),
        },
    }
    if config.open_loop:
        sends = summary.sends
        report["open_loop"] = {
            "scheduled": sends.scheduled,
            "dropped": sends.dropped,
            "late": sends.late,
            "late_threshold_ms": _ms(config.late_threshold_s),
            "max_lag_ms": _ms(sends.max_lag_s),
        }
    return report


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Written whole to a sibling and renamed, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    staging.write_text(json.dumps(report, indent=2) + "\n")
    staging.replace(path)


def format_table(config: LoadTestConfig, summary: RunSummary, *, interrupted: bool) -> str:
    if config.open_loop:
        shape = f"open loop at {config.rate:g} req/s (at most {config.max_outstanding} in flight)"
    else:
        shape = f"closed loop, {config.concurrency} caller(s)"
    rows: list[tuple[str, str]] = [
        ("target", f"{config.channel.target} model {config.signature.model_name!r}"),
        ("load", f"{shape}, batch {config.batch_size}"),
        (
            "measured window",
            f"{summary.window_s:.2f} s ({summary.warmup_requests} warm-up requests excluded)",
        ),
        ("requests", f"{summary.requests_ok} ok of {summary.requests}"),
        (
            "throughput",
            f"{summary.requests_per_s:.1f} requests/s, {summary.images_per_s:.1f} images/s",
        ),
    ]
    latency = summary.latency
    if latency is not None:
        rows.append(
            (
                "latency (ms)",
                "  ".join(
                    f"{name} {value * 1000:.1f}"
                    for name, value in (
                        ("p50", latency.p50),
                        ("p90", latency.p90),
                        ("p95", latency.p95),
                        ("p99", latency.p99),
                        ("max", latency.max),
                    )
                ),
            )
        )
    else:
        rows.append(("latency (ms)", "no successful request"))
    errors = summary.errors
    rows.append(
        ("errors", ", ".join(f"{code} {n}" for code, n in errors.items()) if errors else "none")
    )
    rows.append(
        (
            "client CPU",
            f"{summary.client_cpu_s:.2f} s ({summary.client_cpu_cores:.2f} cores, "
            f"{summary.client_cpu_ms_per_request:.2f} ms/request)",
        )
    )
    if config.open_loop:
        sends = summary.sends
        rows.append(
            (
                "schedule",
                f"{sends.scheduled} due, {sends.dropped} dropped (all slots busy), "
                f"{sends.late} late > {config.late_threshold_s * 1000:g} ms "
                f"(max lag {sends.max_lag_s * 1000:.1f} ms)",
            )
        )
    if interrupted:
        rows.append(("note", "interrupted: figures cover the part that ran"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)
