"""The record schema and the path encoding that round-trips any file name."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from inception_svm_client.exceptions import ResumeError
from inception_svm_client.records import (
    MAX_RECORD_LINE,
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


@pytest.mark.parametrize("output_format", ["csv", "table"])
def test_csv_and_table_never_print_control_characters_from_a_file_name(
    output_format: str,
) -> None:
    name = "evil\x1b[2J\rfake\nrow.jpg"
    out = io.StringIO()
    writer = RecordWriter(out, output_format)
    writer.write(ClassifyRecord(name, "modern", 0.5))
    writer.write(ClassifyRecord("b.jpg", "classic", -0.5))
    writer.close()
    text = out.getvalue()
    assert not any(char in text for char in "\x1b\r")
    assert len(text.splitlines()) == 3  # header + one line per record: no fake row
    first = text.splitlines()[1]
    shown = first.split(",")[0] if output_format == "csv" else first.split()[0]
    assert decode_path(shown) == os.fsencode(name)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"schema": 2, "path": "a.jpg"}\n', "schema 2"),
        (b'{"schema": true, "path": "a.jpg"}\n', "schema True"),
        (b'{"schema": 1}\n', "not a classify record"),
        (b"[1, 2]\n", "not a classify record"),
        (b"not json\n", "not a classify record"),
        (b"torn but not a record", "not a classify record"),
        (b"x" * (MAX_RECORD_LINE + 10), "too long"),
    ],
)
def test_resume_validates_the_whole_file_before_changing_it(
    tmp_path: Path, content: bytes, message: str
) -> None:
    output = tmp_path / "out.jsonl"
    good = (json.dumps(ClassifyRecord("ok.jpg", "x", 1.0).as_dict()) + "\n").encode()
    output.write_bytes(good + content)
    with pytest.raises(ResumeError, match=message):
        recorded_paths(output)
    assert output.read_bytes() == good + content


def test_the_table_names_the_score_column_as_the_records_do() -> None:
    # A reader who sees "score" in the table finds the same key in jsonl and csv.
    from inception_svm_client.records import ClassifyRecord, render_table

    header = render_table([ClassifyRecord("a.jpg", "modern", 1.25)]).splitlines()[0].split()
    assert header == ["path", "label", "score"]
    assert "score" in ClassifyRecord("a.jpg", "modern", 1.25).as_dict()
