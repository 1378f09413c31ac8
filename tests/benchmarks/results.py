"""Rows of the benchmark table, the timing loop every section shares, and the table itself.

Each row carries its target and verdict next to the measured value, so the printed table
and the JSON say the same thing and a reader never has to look up what "good" means.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K")


@dataclass(frozen=True)
class BenchRow:
    section: str
    name: str
    value: float
    unit: str
    target: str | None = None
    passed: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return ""
        return "pass" if self.passed else "MISS"


def at_least(row_value: float, threshold: float) -> tuple[str, bool]:
    return f">= {threshold:g}", row_value >= threshold


def at_most(row_value: float, threshold: float) -> tuple[str, bool]:
    return f"<= {threshold:g}", row_value <= threshold


def interleaved_rates(
    calls: Mapping[K, tuple[Callable[[], object], int]],
    *,
    min_seconds: float,
    min_calls: int = 5,
    warmup_calls: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[K, float]:
    """Items per second of one typical call of each ``(call, items_per_call)``.

    The calls take turns, one call each per round, until every one has run ``min_calls``
    times and ``min_seconds`` have passed: on a shared 2-core box other processes come and
    go, and taking turns spreads them evenly over the configurations being compared, so
    their ratios hold even when absolute figures wobble. Each rate is ``items_per_call`` /
    the median call time, which ignores the calls a burst of outside load slowed down.
    ``clock=time.process_time`` times CPU seconds instead (see ``tests.benchmarks.one_core``).
    """
    for call, _ in calls.values():
        for _ in range(warmup_calls):
            call()
    timings: dict[K, list[float]] = {key: [] for key in calls}
    started = time.perf_counter()
    rounds = 0
    while rounds < min_calls or time.perf_counter() - started < min_seconds:
        for key, (call, _) in calls.items():
            call_started = clock()
            call()
            timings[key].append(clock() - call_started)
        rounds += 1
    return {key: items / statistics.median(timings[key]) for key, (_, items) in calls.items()}


def format_table(rows: list[BenchRow]) -> str:
    header = ("section", "measurement", "value", "unit", "target", "verdict", "note")
    cells = [header] + [
        (
            row.section,
            row.name,
            f"{row.value:.4g}",
            row.unit,
            row.target or "",
            row.verdict,
            row.note,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header) - 1)]
    lines = []
    for index, line in enumerate(cells):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
            + "  "
            + line[-1]
        )
        if index == 0:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 4))
    return "\n".join(line.rstrip() for line in lines)
