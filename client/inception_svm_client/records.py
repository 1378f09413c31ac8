"""One classification record per input: its stable schema, its jsonl / csv / table
renderings, and reading a previous run's jsonl file back for ``--resume``.

Schema version 1 (every jsonl line has every key, in this order)::

    {"schema": 1, "path": str, "status": str, "label": str|null, "score": float|null,
     "model_version": int|null, "error": str|null, "flag": str|null,
     "preprocessed": "client"|"server"|null}

``status`` is "OK" or why there is no label: a gRPC status name (INVALID_ARGUMENT,
NOT_FOUND, ...) or a client reason (UNREADABLE, RETRY_BUDGET_EXHAUSTED,
MODEL_VERSION_MISMATCH, BAD_RESPONSE). ``flag`` is set on an OK record whose features came
from another model version than the SVM's (only possible with ``--model-version latest``).
``preprocessed`` (added under schema 1) says where an OK record's image became the
network's input: "client" (decoded and resized by the client, ``--preprocess client``) or
"server" (its bytes were sent: the default, or a format the client does not reproduce
exactly); null on an error record.
New keys may be added under the same schema number; a key's meaning never changes.

Paths are text. A file name is bytes on Linux and need not be UTF-8, so every path is
written in one reversible form: a backslash is written ``\\\\``, a byte that is not part of
valid UTF-8 is written ``\\xNN``, everything else as is (``decode_path`` inverts it).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from inception_svm_client.exceptions import FileRefused, ResumeError
from inception_svm_client.files import MAX_RECORDS_BYTES, open_regular

FORMATS = ("jsonl", "csv", "table")
SCHEMA_VERSION = 1
OK = "OK"
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")


def encode_path(path: str) -> str:
    """``os.fsdecode`` text (lone surrogates for undecodable bytes) → printable text."""
    text = os.fsencode(path).decode("utf-8", "surrogateescape")
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif "\udc80" <= char <= "\udcff":
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(char)
    return "".join(out)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def display_path(path: str) -> str:
    """``encode_path`` with control characters also written ``\\xNN``: what CSV and table
    output print, so a file name cannot move the cursor, clear the line (ESC, CR) or start a
    fake row (a newline). ``decode_path`` gives back the file name's bytes from it too."""
    return _CONTROL.sub(lambda match: _escape_control(match.group()), encode_path(path))


def _escape_control(char: str) -> str:
    return "".join(f"\\x{byte:02x}" for byte in char.encode("utf-8"))


def decode_path(text: str) -> bytes:
    """The file name's bytes from a record's ``path``."""
    parts = []
    position = 0
    for match in _ESCAPE.finditer(text):
        parts.append(text[position : match.start()].encode("utf-8"))
        escape = match.group(1)
        parts.append(b"\\" if escape == "\\" else bytes([int(escape[1:], 16)]))
        position = match.end()
    parts.append(text[position:].encode("utf-8"))
    return b"".join(parts)


@dataclass(frozen=True)
class ClassifyRecord:
    """``path`` is the input key as given (``os.fsdecode`` text); it is encoded on output."""

    path: str
    label: str | None = None
    score: float | None = None
    error: str | None = None
    status: str = OK
    model_version: int | None = None
    flag: str | None = None
    preprocessed: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "schema": SCHEMA_VERSION,
            "path": encode_path(self.path),
            "status": self.status,
            "label": self.label,
            "score": self.score,
            "model_version": self.model_version,
            "error": self.error,
            "flag": self.flag,
            "preprocessed": self.preprocessed,
        }


# The jsonl keys but "schema", in its order; new columns go at the end, as new keys do.
CSV_COLUMNS = (
    "path",
    "status",
    "label",
    "score",
    "model_version",
    "error",
    "flag",
    "preprocessed",
)


class RecordWriter:
    """Streams jsonl/csv as results arrive, one complete, flushed line per record (a
    killed run leaves at most its last line torn); a table needs every row first."""

    def __init__(self, out: TextIO, output_format: str, *, header: bool = True) -> None:
        if output_format not in FORMATS:
            raise ValueError(f"unknown format {output_format!r}, expected one of {FORMATS}")
        self._out = out
        self._format = output_format
        self._rows: list[ClassifyRecord] = []
        if output_format == "csv" and header:
            self._write_line(_csv_line(CSV_COLUMNS))

    def write(self, record: ClassifyRecord) -> None:
        if self._format == "jsonl":
            self._write_line(json.dumps(record.as_dict()) + "\n")
        elif self._format == "csv":
            score = "" if record.score is None else f"{record.score:.6f}"
            version = "" if record.model_version is None else str(record.model_version)
            row = (display_path(record.path), record.status, record.label or "", score, version)
            notes = (record.error or "", record.flag or "", record.preprocessed or "")
            self._write_line(_csv_line((*row, *notes)))
        else:
            self._rows.append(record)

    def _write_line(self, line: str) -> None:
        # One write call per line, then flush: lines reach the file whole and in order.
        self._out.write(line)
        self._out.flush()

    def close(self) -> None:
        if self._format == "table":
            self._out.write(render_table(self._rows))
            self._out.flush()


def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def render_table(records: Sequence[ClassifyRecord]) -> str:
    """Aligned columns; the error column only appears when some input failed."""
    with_errors = any(record.error is not None or record.flag for record in records)
    rows = [["path", "label", "score", "error"]]  # the records' own name
    for record in records:
        score = "" if record.score is None else f"{record.score:+.4f}"
        problem = record.error or record.flag or ""
        rows.append([display_path(record.path), record.label or "", score, problem])
    if not with_errors:
        rows = [row[:3] for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    buffer = io.StringIO()
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        cells[2] = row[2].rjust(widths[2])
        buffer.write("  ".join(cells).rstrip() + "\n")
    return buffer.getvalue()


# A record line is a few hundred bytes; a path is at most PATH_MAX (4096) bytes, each
# written as up to 4 characters, and an error message is short: a longer line is not ours.
MAX_RECORD_LINE = 256 * 1024
_RECORD_START = b'{"schema": '


def read_resume_state(fd: int, name: str) -> tuple[set[str], int]:
    """Validates every line of the records file open on ``fd`` WITHOUT changing it, and
    returns the encoded paths recorded and the length of its complete lines.

    Anything that is not this tool's schema-1 jsonl records (a CSV, a photo, another
    schema) raises ``ResumeError`` and the file stays as it is. A torn last line (a run
    killed mid-write) is accepted only when it starts like a record."""
    size = os.fstat(fd).st_size
    if size > MAX_RECORDS_BYTES:
        raise ResumeError(f"{name}: {size} bytes is over the {MAX_RECORDS_BYTES}-byte limit")
    os.lseek(fd, 0, os.SEEK_SET)
    paths: set[str] = set()
    complete = 0
    with os.fdopen(os.dup(fd), "rb") as handle:
        for number in itertools.count(1):
            line = handle.readline(MAX_RECORD_LINE + 1)
            if not line:
                break
            if not line.endswith(b"\n"):
                if len(line) > MAX_RECORD_LINE:
                    raise ResumeError(f"{name} line {number} is not a classify record: too long")
                if not (line.startswith(_RECORD_START) or _RECORD_START.startswith(line)):
                    raise ResumeError(f"{name} line {number} is not a classify record")
                break  # a torn last line: cut when the run starts writing
            paths.add(_record_path(line, name, number))
            complete += len(line)
    paths.discard("")
    return paths, complete


def _record_path(line: bytes, name: str, number: int) -> str:
    if not line.strip():
        return ""
    try:
        record = json.loads(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ResumeError(f"{name} line {number} is not a classify record: {error}") from None
    if not isinstance(record, dict) or not isinstance(record.get("path"), str):
        raise ResumeError(f"{name} line {number} is not a classify record")
    schema = record.get("schema")
    if type(schema) is not int or schema != SCHEMA_VERSION:
        raise ResumeError(
            f"{name} line {number} has schema {schema!r}; this client writes schema "
            f"{SCHEMA_VERSION}: resume with the client that wrote it, or write a new file"
        )
    return str(record["path"])


def recorded_paths(path: Path) -> set[str]:
    """Encoded paths that already have a record in the jsonl file ``path`` (empty when it
    does not exist); a torn last line is cut off once the whole file has been validated."""
    try:
        fd = open_regular(path, "--resume")
    except FileRefused as error:
        if not path.exists():
            return set()
        raise ResumeError(str(error)) from None
    try:
        paths, complete = read_resume_state(fd, str(path))
    finally:
        os.close(fd)
    if complete != path.stat().st_size:
        os.truncate(path, complete)
    return paths
