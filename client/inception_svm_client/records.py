"""One classification record per input, and its jsonl / csv / table renderings."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

FORMATS = ("jsonl", "csv", "table")


@dataclass(frozen=True)
class ClassifyRecord:
    path: str
    label: str | None = None
    score: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "label": self.label, "score": self.score}


class RecordWriter:
    """Streams jsonl/csv as results arrive; a table needs every row first (column widths)."""

    def __init__(self, out: TextIO, output_format: str) -> None:
        if output_format not in FORMATS:
            raise ValueError(f"unknown format {output_format!r}, expected one of {FORMATS}")
        self._out = out
        self._format = output_format
        self._rows: list[ClassifyRecord] = []
        self._csv = csv.writer(out, lineterminator="\n") if output_format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(["path", "label", "score", "error"])

    def write(self, record: ClassifyRecord) -> None:
        if self._format == "jsonl":
            self._out.write(json.dumps(record.as_dict()) + "\n")
            self._out.flush()
        elif self._csv is not None:
            score = "" if record.score is None else f"{record.score:.6f}"
            self._csv.writerow([record.path, record.label or "", score, record.error or ""])
            self._out.flush()
        else:
            self._rows.append(record)

    def close(self) -> None:
        if self._format == "table":
            self._out.write(render_table(self._rows))


def render_table(records: Sequence[ClassifyRecord]) -> str:
    """Aligned columns; the error column only appears when some input failed."""
    with_errors = any(record.error is not None for record in records)
    rows = [["path", "label", "distance", "error"]]
    for record in records:
        score = "" if record.score is None else f"{record.score:+.4f}"
        rows.append([record.path, record.label or "", score, record.error or ""])
    if not with_errors:
        rows = [row[:3] for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    buffer = io.StringIO()
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        cells[2] = row[2].rjust(widths[2])
        buffer.write("  ".join(cells).rstrip() + "\n")
    return buffer.getvalue()
