"""Rows of the benchmark table, the timing loop every section shares, and the table itself.

Each row carries its target and verdict next to the measured value, so the printed table
and the JSON say the same thing and a reader never has to look up what "good" means.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


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


def rate_per_s(
    call: Callable[[], object],
    items_per_call: int,
    *,
    min_seconds: float,
    min_calls: int = 3,
    warmup_calls: int = 2,
) -> float:
    """Items per second over back-to-back calls, after untimed warm-up calls.

    Runs at least ``min_calls`` and at least ``min_seconds``: enough for a stable mean
    on a 2-core box without letting slow configurations stretch the whole run.
    """
    for _ in range(warmup_calls):
        call()
    calls = 0
    started = time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - started
        if calls >= min_calls and elapsed >= min_seconds:
            return calls * items_per_call / elapsed


def seconds_per_call(call: Callable[[], object], *, min_seconds: float = 0.5) -> float:
    """Mean wall time of one call (for microsecond-scale client work)."""
    return 1.0 / rate_per_s(call, 1, min_seconds=min_seconds, min_calls=20)


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
