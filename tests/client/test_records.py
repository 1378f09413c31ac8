"""The record schema and the path encoding that round-trips any file name."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from inception_svm_client.records import (
    ClassifyRecord,
    RecordWriter,
    decode_path,
    encode_path,
    recorded_paths,
)

NAMES = [
    b"plain/photo.jpg",
    b"caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.jpg",  # valid UTF-8
    b"latin1-caf\xe9.jpg",  # not UTF-8
    b"bad-\xff\xfe-\xc3.jpg",  # invalid bytes and a truncated sequence
    b"back\\slash-\\xff-\\\\.jpg",  # literal backslashes that look like escapes
]


@pytest.mark.parametrize("raw", NAMES)
def test_every_file_name_round_trips(raw: bytes) -> None:
    text = encode_path(os.fsdecode(raw))
    text.encode("utf-8")  # printable as strict UTF-8: no lone surrogates
    assert decode_path(text) == raw


def test_encodings_of_distinct_names_are_distinct() -> None:
    encoded = [encode_path(os.fsdecode(raw)) for raw in NAMES]
    assert len(set(encoded)) == len(NAMES)
    assert encode_path("back\\xff") != encode_path(os.fsdecode(b"back\xff"))


@pytest.mark.parametrize("output_format", ["jsonl", "csv", "table"])
def test_every_format_writes_a_non_utf8_name_to_a_strict_utf8_stream(output_format: str) -> None:
    raw = b"dir/latin1-caf\xe9.jpg"
    buffer = io.BytesIO()
    out = io.TextIOWrapper(buffer, encoding="utf-8", errors="strict", newline="")
    writer = RecordWriter(out, output_format)
    writer.write(ClassifyRecord(os.fsdecode(raw), "modern", 1.5, model_version=1))
    writer.write(ClassifyRecord(os.fsdecode(raw + b"2"), error="bad", status="UNREADABLE"))
    writer.close()
    text = buffer.getvalue().decode("utf-8")
    if output_format == "jsonl":
        paths = [json.loads(line)["path"] for line in text.splitlines()]
    elif output_format == "csv":
        paths = [row["path"] for row in csv.DictReader(io.StringIO(text))]
    else:
        paths = [line.split()[0] for line in text.splitlines()[1:]]
    assert [decode_path(path) for path in paths] == [raw, raw + b"2"]


def test_jsonl_schema_has_every_key_on_every_line() -> None:
    out = io.StringIO()
    writer = RecordWriter(out, "jsonl")
    writer.write(ClassifyRecord("a.jpg", "modern", 0.5, model_version=1))
    writer.write(ClassifyRecord("b.jpg", error="gone", status="RETRY_BUDGET_EXHAUSTED"))
    ok, failed = (json.loads(line) for line in out.getvalue().splitlines())
    keys = ["schema", "path", "status", "label", "score", "model_version", "error", "flag"]
    keys.append("preprocessed")  # issue 26, added under schema 1
    assert list(ok) == list(failed) == keys
    assert ok["schema"] == 1 and ok["status"] == "OK" and ok["error"] is None
    assert failed["status"] == "RETRY_BUDGET_EXHAUSTED" and failed["label"] is None


def test_resume_reads_complete_records_and_cuts_a_torn_line(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    assert recorded_paths(output) == set()
    complete = json.dumps(ClassifyRecord("a\\b.jpg", "x", 1.0).as_dict()) + "\n"
    output.write_text(complete + '{"schema": 1, "pa')
    assert recorded_paths(output) == {encode_path("a\\b.jpg")}
    assert output.read_text() == complete
