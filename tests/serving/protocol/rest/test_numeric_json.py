"""Large numeric JSON arrays parsed straight into numpy (issue 27): same values and errors as
``json.loads`` + ``np.asarray`` would give, at a small multiple of the body's memory."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from inception_svm_serving._exceptions import InvalidArgument
from inception_svm_serving.protocol.rest import _numeric_json as numeric_json
from inception_svm_serving.protocol.rest._numeric_json import NumericText, loads, to_array

FLOAT32 = np.dtype(np.float32)


@pytest.fixture(autouse=True)
def every_array_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path for arrays of any size, so small cases exercise it."""
    monkeypatch.setattr(numeric_json, "MIN_SPAN_BYTES", 1)


def _parsed(text: str, dtype: np.dtype = FLOAT32) -> np.ndarray:
    value = loads(text.encode())["x"]
    assert isinstance(value, NumericText)
    return to_array("x", value, dtype, dtype.name)


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2.5, -3e2, 4E-1]",
        "[[1,2],[3,4],[5,6]]",
        " [ [ [ 0 ] ] , [ [ 1 ] ] ] ",
        "[[[1,2,3]],[[4,5,6]]]",
        "[]",
        "[[],[]]",
    ],
)
def test_values_and_shapes_match_json_loads(text: str) -> None:
    expected = np.asarray(json.loads(text), dtype=np.float32)
    actual = _parsed('{"x": ' + text + "}")
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[1,2],[3]]", "regular nested array"),
        ("[[1,[2]],[3,4]]", "regular nested array"),
        ("[1,,2]", "regular nested array"),
        ("[1 2]", "not a number"),
        ("[1.2.3]", "not a number"),
        ("[- 1]", "not a number"),
    ],
)
def test_irregular_or_malformed_arrays_are_invalid_argument(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        _parsed('{"x": ' + text + "}")


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13])
def test_the_result_does_not_depend_on_where_the_text_is_cut(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The skeleton and the numbers are computed in pieces; a number, a run of blanks or of
    brackets split between two pieces reads as one."""
    monkeypatch.setattr(numeric_json, "_PIECE_BYTES", chunk)
    text = "[[ 12.5,  -3e2 ,4E-1 ],[1000000,   0.125,7]]"
    np.testing.assert_array_equal(
        _parsed('{"x": ' + text + "}"), np.asarray(json.loads(text), np.float32)
    )
    for bad, message in (("[[12,3],[4]]", "regular"), ("[[12 3, 4],[5,6]]", "not a number")):
        with pytest.raises(InvalidArgument, match=message):
            _parsed('{"x": ' + bad + "}")


def test_integers_refuse_fractions() -> None:
    assert _parsed('{"x": [[1,2],[3,4]]}', np.dtype(np.int32)).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(InvalidArgument, match="int32"):
        _parsed('{"x": [1, 2.5]}', np.dtype(np.int32))


def test_brackets_inside_strings_and_mixed_arrays_stay_json() -> None:
    value = loads(b'{"s": "[1, 2]", "m": [{"b64": ""}, [3, 4]], "x": [5]}')
    assert value["s"] == "[1, 2]"
    assert value["m"][0] == {"b64": ""} and value["m"][1] == [3, 4]  # not one array: json
    assert isinstance(value["x"], NumericText)


def test_values_outside_numeric_arrays_are_capped_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(numeric_json, "MAX_JSON_VALUES", 10)
    with pytest.raises(InvalidArgument, match="more than 10 values"):
        loads(b'{"x": [' + b",".join([b'"a"'] * 20) + b"]}")


def test_depth_is_read_from_the_leading_brackets() -> None:
    value = loads(b'{"x": ' + b"[" * 100 + b"]" * 100 + b"}")["x"]
    assert isinstance(value, NumericText) and value.depth == 100


def test_memory_is_a_small_multiple_of_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    """json.loads would hold ~30 bytes per number (here 2 bytes of text each)."""
    monkeypatch.setattr(numeric_json, "MIN_SPAN_BYTES", 64 * 1024)
    row = b"[" + b",".join([b"0"] * 1000) + b"]"
    body = b'{"x": [' + b",".join([row] * 4000) + b"]}"  # 4 M numbers, ~7.6 MiB
    tracemalloc.start()
    try:
        array = to_array("x", loads(body)["x"], FLOAT32, "float")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert array.shape == (4000, 1000) and not array.any()
    assert peak < 6 * len(body), (peak, len(body))
