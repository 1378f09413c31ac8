"""Run a plan: one load step, or a sweep of steps measured in stability windows.

A sweep step keeps its load running continuously and cuts it into back-to-back windows
(``--window``): each window counts the requests that finished inside it, and the server's
metrics are read at every boundary. The step ends when the last windows agree within the
tolerance (perf_analyzer's rule, see ``WindowPolicy``) or at ``--max-windows``; its row
covers those last windows. The sweep stops at the first step that fails a gate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from inception_svm_client.loadtest.plan import Gates, LoadTestConfig, LoadTestPlan
from inception_svm_client.loadtest.runner import (
    LoadRunner,
    ProgressCallback,
    open_channels,
)
from inception_svm_client.loadtest.server_metrics import MetricsReader, Samples, ServerBreakdown
from inception_svm_client.loadtest.stats import OK_STATUS, RunSummary, summarize

# How often the controller wakes while waiting for a window boundary (Ctrl-C latency).
_TICK_S = 0.05

Say = Callable[[str], None]


@dataclass(frozen=True)
class StepResult:
    """One row of the report: a load level and what client and server measured there.

    ``stable`` is None for a single run (no windows), else whether the stability rule was
    met before ``--max-windows``. ``latencies_s`` are the successful requests' latencies,
    kept for the histogram.
    """

    config: LoadTestConfig
    summary: RunSummary
    latencies_s: tuple[float, ...]
    server: ServerBreakdown | None
    windows: int | None
    stable: bool | None
    gate_failures: tuple[str, ...]


@dataclass(frozen=True)
class PlanResult:
    steps: tuple[StepResult, ...]
    skipped_levels: tuple[float, ...]
    interrupted: bool

    @property
    def passed(self) -> bool:
        return not any(step.gate_failures for step in self.steps)


def gate_failures(summary: RunSummary, gates: Gates) -> tuple[str, ...]:
    """Why a step fails its gates, in words; empty when it passes."""
    failures = []
    if summary.requests == 0:
        failures.append("no request finished")
    else:
        failed = summary.requests - summary.requests_ok
        error_rate = failed / summary.requests
        if error_rate > gates.max_error_rate:
            errors = ", ".join(f"{code} {n}" for code, n in summary.errors.items())
            failures.append(
                f"error rate {error_rate:.2%} > --max-error-rate {gates.max_error_rate:.2%} "
                f"({errors})"
            )
    latency, slo_s = summary.latency, gates.slo_p99_s
    if slo_s is not None and latency is not None and latency.p99 > slo_s:
        failures.append(f"p99 {latency.p99 * 1000:.1f} ms > --slo-p99 {slo_s * 1000:g} ms")
    return tuple(failures)


def is_stable(windows: Sequence[RunSummary], tolerance: float) -> bool:
    """Throughput and mean latency of every window within ``tolerance`` of their average.

    Windows without a successful request have no latency: they agree only with each other
    (a run where everything fails is stable at zero, not measured forever).
    """

    def agree(values: Sequence[float]) -> bool:
        average = math.fsum(values) / len(values)
        return all(abs(v - average) <= tolerance * average for v in values)

    if not agree([w.requests_per_s for w in windows]):
        return False
    latencies = [w.latency.mean for w in windows if w.latency is not None]
    if not latencies:
        return True
    return len(latencies) == len(windows) and agree(latencies)


def _ok_latencies(runner: LoadRunner, window: tuple[float, float] | None) -> tuple[float, ...]:
    return tuple(
        o.latency_s
        for o in runner.outcomes()
        if o.status == OK_STATUS
        and not o.warmup
        and (window is None or window[0] <= o.finished_at < window[1])
    )


def run_single(plan: LoadTestPlan, on_progress: ProgressCallback | None) -> tuple[StepResult, bool]:
    """The plan's one run (bounded by --requests/--duration); returns it and interrupted."""
    reader = MetricsReader(plan.metrics_url, plan.base.target.model_name)
    config = plan.base
    with open_channels(config) as channels:
        before = reader.read()
        runner = LoadRunner(config, channels)
        result = runner.run(on_progress)
        after = reader.read()
    step = StepResult(
        config=config,
        summary=result.summary,
        latencies_s=_ok_latencies(runner, None),
        server=reader.between(before, after),
        windows=None,
        stable=None,
        gate_failures=gate_failures(result.summary, plan.gates),
    )
    return step, result.interrupted


class _StepController:
    """Drives one sweep step from the calling thread while its load runs in another."""

    def __init__(
        self, plan: LoadTestPlan, config: LoadTestConfig, reader: MetricsReader, say: Say
    ) -> None:
        self._plan, self._config, self._reader, self._say = plan, config, reader, say

    def measure(self, channels: Sequence[grpc.Channel]) -> StepResult:
        policy, config = self._plan.windows, self._config
        runner = LoadRunner(config, channels)
        runner.start_clock()
        worker = threading.Thread(target=runner.run, name="loadtest-step", daemon=True)
        worker.start()
        try:
            self._wait_until(runner, config.warmup_s)
            boundaries = [runner.elapsed()]
            cpu = [time.process_time()]
            scrapes: list[Samples | None] = [self._reader.read()]
            windows: list[RunSummary] = []
            stable = False
            while len(windows) < policy.max_windows and not stable:
                self._wait_until(runner, boundaries[0] + policy.window_s * (len(windows) + 1))
                boundaries.append(runner.elapsed())
                cpu.append(time.process_time())
                scrapes.append(self._reader.read())
                windows.append(
                    summarize(
                        runner.outcomes(),
                        client_cpu_s=cpu[-1] - cpu[-2],
                        window=(boundaries[-2], boundaries[-1]),
                    )
                )
                recent = windows[-policy.stable_windows :]
                stable = len(recent) == policy.stable_windows and is_stable(
                    recent, policy.tolerance
                )
                self._say(self._window_line(len(windows), windows[-1], stable))
        finally:
            runner.stop()
            worker.join(timeout=config.deadline_s + 5.0)
        first = max(0, len(windows) - policy.stable_windows)
        span = (boundaries[first], boundaries[-1])
        summary = summarize(
            runner.outcomes(), client_cpu_s=cpu[-1] - cpu[first], sends=runner.sends, window=span
        )
        return StepResult(
            config=config,
            summary=summary,
            latencies_s=_ok_latencies(runner, span),
            server=self._reader.between(scrapes[first], scrapes[-1]),
            windows=len(windows),
            stable=stable,
            gate_failures=gate_failures(summary, self._plan.gates),
        )

    @staticmethod
    def _wait_until(runner: LoadRunner, elapsed_s: float) -> None:
        while (left := elapsed_s - runner.elapsed()) > 0:
            time.sleep(min(left, _TICK_S))

    def _window_line(self, index: int, window: RunSummary, stable: bool) -> str:
        latency = window.latency
        timing = (
            f"mean {latency.mean * 1000:.1f} ms, p99 {latency.p99 * 1000:.1f} ms"
            if latency
            else "no successful request"
        )
        errors = window.requests - window.requests_ok
        return (
            f"{self._plan.sweep_kind} {self._level_text()}: window {index}/"
            f"{self._plan.windows.max_windows}: {window.requests_per_s:.1f} req/s, {timing}, "
            f"{errors} errors{' - stable' if stable else ''}"
        )

    def _level_text(self) -> str:
        rate = self._config.rate
        return f"{rate:g}/s" if rate is not None else str(self._config.concurrency)


def run_sweep(plan: LoadTestPlan, say: Say) -> PlanResult:
    """Every level in order until one fails a gate; Ctrl-C keeps the finished rows."""
    reader = MetricsReader(plan.metrics_url, plan.base.target.model_name)
    steps: list[StepResult] = []
    interrupted = False
    with open_channels(plan.base) as channels:
        reader.read()  # an unreadable metrics endpoint fails here, before any load
        for index, level in enumerate(plan.levels):
            config = plan.step_config(level)
            try:
                step = _StepController(plan, config, reader, say).measure(channels)
            except KeyboardInterrupt:
                interrupted = True
                break
            steps.append(step)
            if step.gate_failures:
                say(f"stopping the sweep: {'; '.join(step.gate_failures)}")
                break
            if index + 1 < len(plan.levels):
                say(f"{plan.sweep_kind} {level:g} done ({'stable' if step.stable else 'UNSTABLE'})")
    skipped = plan.levels[len(steps) :]
    return PlanResult(steps=tuple(steps), skipped_levels=tuple(skipped), interrupted=interrupted)
