"""The report's score distribution: one histogram per label as inline SVG.

Hand-drawn rather than plotly (which the loadtest page uses): an offline page must embed
plotly.js, 4.8 MB, twenty times a whole 27-photo report, against a budget of 12 kB per image
(tests/client/report/test_classify.py); and the histogram then needs no ``report`` extra.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

BINS = 24
WIDTH = 640
ROW_HEIGHT = 64
LEFT = 120  # room for the label names
BOTTOM = 28  # room for the axis
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _bounds(scores: Sequence[float]) -> tuple[float, float]:
    low, high = min(scores), max(scores)
    if not math.isfinite(low) or not math.isfinite(high):
        raise ValueError("scores must be finite")
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    return low, high


def _counts(scores: Sequence[float], low: float, high: float) -> list[int]:
    counts = [0] * BINS
    for score in scores:
        index = min(BINS - 1, int((score - low) / (high - low) * BINS))
        counts[max(0, index)] += 1
    return counts


def score_histogram_svg(scores_by_label: Mapping[str, Sequence[float]]) -> str:
    """Shared bins and x axis for every label, so rows compare; the dashed line is the
    decision boundary (score 0) when it lies in range. Empty input gives an empty string."""
    everything = [s for scores in scores_by_label.values() for s in scores]
    if not everything:
        return ""
    low, high = _bounds(everything)
    plot_width = WIDTH - LEFT - 30  # room for the last axis label
    bar_width = plot_width / BINS

    def x_of(score: float) -> float:
        return LEFT + (score - low) / (high - low) * plot_width

    rows = [label for label, scores in scores_by_label.items() if scores]
    height = len(rows) * ROW_HEIGHT + BOTTOM
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{WIDTH}' "
        f"height='{height}' viewBox='0 0 {WIDTH} {height}' role='img' "
        "aria-label='score distribution per label'>"
    ]
    for row, label in enumerate(rows):
        counts = _counts(scores_by_label[label], low, high)
        peak = max(counts)
        top = row * ROW_HEIGHT
        color = PALETTE[row % len(PALETTE)]
        name = html.escape(label)
        parts.append(
            f"<text x='{LEFT - 8}' y='{top + ROW_HEIGHT / 2 + 4:.0f}' text-anchor='end'>"
            f"{name} ({len(scores_by_label[label])})</text>"
        )
        for index, count in enumerate(counts):
            if not count:
                continue
            bar = (ROW_HEIGHT - 8) * count / peak
            parts.append(
                f"<rect x='{LEFT + index * bar_width:.1f}' y='{top + ROW_HEIGHT - bar:.1f}' "
                f"width='{bar_width - 1:.1f}' height='{bar:.1f}' fill='{color}'>"
                f"<title>{name}: {count}</title></rect>"
            )
    axis_y = len(rows) * ROW_HEIGHT
    parts.append(
        f"<line x1='{LEFT}' x2='{LEFT + plot_width}' y1='{axis_y}' y2='{axis_y}' stroke='#444'/>"
    )
    for value in (low, high):
        x = x_of(value)
        parts.append(
            f"<text x='{x:.1f}' y='{axis_y + 16}' text-anchor='middle'>{value:+.2f}</text>"
        )
    if low < 0 < high:
        zero = x_of(0.0)
        parts.append(
            f"<line x1='{zero:.1f}' x2='{zero:.1f}' y1='0' y2='{axis_y}' stroke='#444' "
            "stroke-dasharray='4 3'/>"
            f"<text x='{zero:.1f}' y='{axis_y + 16}' text-anchor='middle'>0</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
