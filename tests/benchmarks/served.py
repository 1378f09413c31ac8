"""Sections 2 and 3: the same model through the stand-in over gRPC, driven by the loadtest runner
(section 3 with batching on: the concurrency sweep of ``loadtest --concurrency-range``).

The runner is the one users run (``inception-svm loadtest``), so these numbers are the
ones a user reproduces against any TF Serving, real or stand-in.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inception_svm_client.config import ChannelConfig
from inception_svm_client.loadtest.plan import (
    LevelRange,
    LoadTestConfig,
    LoadTestPlan,
    WindowPolicy,
)
from inception_svm_client.loadtest.result_formats import format_table, report_dict
from inception_svm_client.loadtest.runner import run_load_test
from inception_svm_client.loadtest.stats import RunSummary
from inception_svm_client.loadtest.sweep import PlanResult, run_sweep
from tests.harness import BATCHING_PARAMETERS, ServerHandle

BATCHING_FLAGS = ("--enable_batching=true", f"--batching_parameters_file={BATCHING_PARAMETERS}")


def prime(target: str, images: Sequence[bytes], *, batch_size: int, concurrency: int) -> None:
    """Send a few rounds first, untimed: a server's first calls at a new batch shape trace
    and compile, which can outlast a short warm-up window and leave nothing measured."""
    config = LoadTestConfig(
        channel=ChannelConfig(target=target),
        images=tuple(images),
        batch_size=batch_size,
        concurrency=concurrency,
        requests=2 * concurrency,
        deadline_s=120.0,
    )
    run_load_test(config)


def closed_loop(
    target: str,
    images: Sequence[bytes],
    *,
    batch_size: int,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
) -> RunSummary:
    """One primed closed-loop run; raises when any request failed, since then figures lie."""
    prime(target, images, batch_size=batch_size, concurrency=concurrency)
    config = LoadTestConfig(
        channel=ChannelConfig(target=target),
        images=tuple(images),
        batch_size=batch_size,
        concurrency=concurrency,
        warmup_s=warmup_s,
        duration_s=duration_s,
        deadline_s=60.0,
    )
    summary = run_load_test(config).summary
    if summary.errors or summary.requests_ok == 0:
        raise RuntimeError(
            f"benchmark run against {target} had errors {summary.errors} "
            f"({summary.requests_ok} ok): fix the server before reading its numbers"
        )
    return summary


@dataclass(frozen=True)
class SweepSettings:
    """Section 3's concurrency sweep: levels and perf_analyzer-style stability windows."""

    concurrency_range: str = "1:64:x2"
    window_s: float = 3.0
    warmup_s: float = 1.0
    max_windows: int = 6
    tolerance: float = 0.15


def concurrency_sweep(
    server: ServerHandle, images: Sequence[bytes], settings: SweepSettings
) -> tuple[PlanResult, dict[str, Any]]:
    """The sweep ``inception-svm loadtest --concurrency-range`` runs, with the server's
    metrics beside the client's; returns its report (the dict the CLI writes as JSON).
    Raises when a step had errors: a failing server's figures are not a benchmark."""
    prime(server.grpc_target, images, batch_size=1, concurrency=8)
    windows = WindowPolicy(
        window_s=settings.window_s, tolerance=settings.tolerance, max_windows=settings.max_windows
    )
    plan = LoadTestPlan(
        base=LoadTestConfig(
            channel=ChannelConfig(target=server.grpc_target),
            images=tuple(images),
            duration_s=windows.step_bound_s,  # each step replaces it (step_config)
            warmup_s=settings.warmup_s,
            deadline_s=60.0,
        ),
        levels=LevelRange.parse(settings.concurrency_range).levels(),
        windows=windows,
        metrics_url=server.rest_url,
    )
    result = run_sweep(plan, lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    report = report_dict(plan, result)
    if not result.passed or result.skipped_levels:
        raise RuntimeError(
            f"concurrency sweep against {server.grpc_target} failed:\n" + format_table(report)
        )
    return result, report
