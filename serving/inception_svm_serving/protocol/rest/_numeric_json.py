"""Large numeric JSON arrays straight into numpy, without a Python object per number.

``json.loads`` turns every number into a Python int or float (24-32 bytes) inside lists (8
bytes per slot): a 59 MiB ``predict_pixels`` body of zeros became 3.35 GB. TF Serving parses
JSON into a tensor directly (``util/json_tensor.cc``, rapidjson). Here, before ``json.loads``,
every run of the body that is a bracketed array of numbers only (outside strings) and at least
``MIN_SPAN_BYTES`` long is cut out and replaced by a placeholder string; after parsing, the
placeholder becomes a :class:`NumericText` that the codec converts against the signature's
dtype with ``np.fromstring`` (C, no per-element objects). The array's shape is read from its
brackets and checked to be regular by comparing the array's skeleton (whitespace removed, each
number replaced by ``0``) with the skeleton that shape would print; the work is a few
byte-sized numpy passes over the text, so memory stays a small multiple of the body.

Whatever is left for ``json.loads`` is capped at ``MAX_JSON_VALUES`` values (counted by its
commas, before parsing): a body that hides a huge numeric array from the fast path (say, one
that mixes numbers and objects in one array) is refused instead of parsed.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np

from inception_svm_serving._exceptions import InvalidArgument

MIN_SPAN_BYTES = 64 * 1024
_PIECE_BYTES = 4 << 20
MAX_JSON_VALUES = 1_000_000
# Strings are matched first so that brackets inside them are never taken for arrays.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|\[[\s0-9.eE+\-,\[\]]*\]')
_WHITESPACE = b" \t\r\n"
_LEADING = re.compile(rb"[\s\[]*")
_OPEN, _CLOSE, _COMMA, _ZERO = b"[],0"
_NO_BRACKETS = bytes.maketrans(b"[]", b"  ")


@dataclass(frozen=True)
class NumericText:
    """A bracketed array of numbers, still as text (a view into the request body)."""

    text: memoryview

    @property
    def depth(self) -> int:
        """Leading brackets (up to 4 KiB of them): what the JSON depth limit checks."""
        prefix = _LEADING.match(bytes(self.text[:4096]))
        return prefix.group().count(b"[") if prefix else 0


def loads(body: bytes | bytearray) -> Any:
    """``json.loads`` with large numeric arrays left as :class:`NumericText`."""
    view = memoryview(body)
    nonce = secrets.token_hex(8)
    pieces: list[bytes | memoryview] = []
    spans: list[NumericText] = []
    position = 0
    for match in _TOKEN.finditer(body):
        start, end = match.span()
        if body[start] != _OPEN or end - start < MIN_SPAN_BYTES:
            continue
        if body.count(b"[", start, end) != body.count(b"]", start, end):
            continue  # not one array: part of a larger one with other values
        pieces += [view[position:start], f'"{nonce}:{len(spans)}"'.encode()]
        spans.append(NumericText(view[start:end]))
        position = end
    if not spans:
        text: bytes | bytearray = body
    else:
        pieces.append(view[position:])
        text = b"".join(pieces)
    if text.count(b",") >= MAX_JSON_VALUES:
        raise InvalidArgument(
            f"JSON parse error: more than {MAX_JSON_VALUES} values outside numeric arrays; "
            "send numbers as nested arrays of numbers only"
        )
    value = json.loads(text or b"null")
    return _restore(value, nonce, spans) if spans else value


def _restore(value: Any, nonce: str, spans: list[NumericText]) -> Any:
    """Placeholders back to their NumericText, iteratively (no recursion on client data)."""
    prefix = nonce + ":"

    def resolved(item: Any) -> Any:
        if isinstance(item, str) and item.startswith(prefix):
            return spans[int(item[len(prefix) :])]
        return item

    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                node[key] = resolved(item)
                stack.append(item)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                node[index] = resolved(item)
                stack.append(item)
    return resolved(value)


def _skeleton(text: memoryview) -> bytes:
    """The array with whitespace removed and each number replaced by ``0``.

    In chunks of ``_PIECE_BYTES`` bytes, so the byte masks are a few MiB rather than five
    copies of the body (a number split between chunks is joined through ``previous``)."""
    raw = np.frombuffer(text, np.uint8)
    parts = []
    previous = True  # whether the last non-blank character so far was structural
    for start in range(0, raw.size, _PIECE_BYTES):
        chunk = raw[start : start + _PIECE_BYTES]
        white = chunk == _WHITESPACE[0]
        for char in _WHITESPACE[1:]:
            white |= chunk == char
        compact = chunk[~white]
        if not compact.size:
            continue
        structural = (compact == _OPEN) | (compact == _CLOSE) | (compact == _COMMA)
        first = ~structural
        first[0] &= previous
        first[1:] &= structural[:-1]  # the first character of each number
        previous = bool(structural[-1])
        keep = structural | first
        parts.append(np.where(structural, compact, np.uint8(_ZERO))[keep].tobytes())
    return b"".join(parts)


def _shape(skeleton: bytes) -> tuple[int, ...] | None:
    """The shape a regular array with this skeleton has, or None if it is not regular."""
    depth = len(skeleton) - len(skeleton.lstrip(b"["))
    if depth == 0:
        return None
    leaf_end = skeleton.find(b"]")
    leaf = skeleton[depth - 1 : leaf_end + 1]
    sizes = [0 if leaf == b"[]" else leaf.count(b",") + 1]
    length = len(leaf)
    for level in range(depth - 1, 0, -1):  # the first array of each outer level
        end = skeleton.find(b"]" * (depth - level + 1))
        if end < 0:
            return None
        outer = end + depth - level + 1 - (level - 1)
        count, remainder = divmod(outer - 1, length + 1)
        if remainder or count < 1:
            return None
        sizes.insert(0, count)
        length = outer
    return tuple(sizes)


def _print_skeleton(shape: tuple[int, ...]) -> bytes:
    text = b"[]" if shape[-1] == 0 else b"[" + b",".join([b"0"] * shape[-1]) + b"]"
    for size in reversed(shape[:-1]):
        text = b"[" + b",".join([text] * size) + b"]"
    return text


def to_array(alias: str, numbers: NumericText, dtype: np.dtype[Any], dtype_name: str) -> np.ndarray:
    """The numeric text as an array of ``dtype``; INVALID_ARGUMENT naming the input if it is
    not a regular nested array of numbers of that type."""
    skeleton = _skeleton(numbers.text)
    shape = _shape(skeleton)
    if shape is None or _print_skeleton(shape) != skeleton:
        raise InvalidArgument(
            f"input '{alias}': expected a regular nested array of numbers (every row the "
            "same length)"
        )
    del skeleton
    count = int(np.prod(shape))
    if count == 0:
        return np.zeros(shape, dtype)
    parse_as = dtype if dtype.kind == "f" and dtype.itemsize >= 4 else np.dtype(np.float64)
    if dtype.kind in "iu":
        parse_as = np.dtype(np.int64)
    flat = _parse_numbers(numbers.text, count, parse_as)
    if flat is None:
        raise InvalidArgument(f"input '{alias}': cannot convert to {dtype_name}: not a number")
    return flat.reshape(shape).astype(dtype, copy=False)


def _parse_numbers(text: memoryview, count: int, dtype: np.dtype[Any]) -> np.ndarray | None:
    """The ``count`` numbers of an array already checked to be regular, parsed in pieces of
    about ``_PIECE_BYTES`` bytes cut at commas straight into the result: no copy of the
    whole text is ever made. None if a token is not a number."""
    flat = np.empty(count, dtype)
    filled = 0
    position = 0
    while position < len(text):
        piece = _next_piece(text, position)
        position += len(piece) + 1  # and the comma after it
        piece = piece.translate(_NO_BRACKETS)
        if not piece.strip():
            continue
        try:
            numbers = np.fromstring(piece, dtype=dtype, sep=",")
        except ValueError:  # numpy 2: "could not be read to its end" (a token that is no number)
            return None
        if filled + numbers.size > count:
            return None
        flat[filled : filled + numbers.size] = numbers
        filled += numbers.size
    return flat if filled == count else None


def _next_piece(text: memoryview, position: int) -> bytes:
    """From ``position`` up to the last comma within ``_PIECE_BYTES`` bytes (a longer
    stretch if it has no comma: whitespace may be long), or to the end."""
    size = _PIECE_BYTES
    while True:
        piece = bytes(text[position : position + size])
        if position + len(piece) >= len(text):
            return piece
        cut = piece.rfind(b",")
        if cut >= 0:
            return piece[:cut]
        size *= 2
