"""TF Serving's REST JSON <-> numpy: row ("instances") and columnar ("inputs") formats.

Strings travel as JSON strings, binary data as ``{"b64": "..."}``, exactly as the real server
expects; numbers are converted to the signature's dtype, and a value that does not fit is an
INVALID_ARGUMENT naming the input.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from inception_svm_serving._exceptions import InvalidArgument
from inception_svm_serving.core.runtime import LoadedSignature, LoadedTensor
from inception_svm_serving.protocol.rest._numeric_json import NumericText, to_array


def _decode_strings(alias: str, value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise InvalidArgument(f'input \'{alias}\': objects must be {{"b64": "..."}}')
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error as error:
            raise InvalidArgument(f"input '{alias}': invalid base64: {error}") from error
    if isinstance(value, list):
        return [_decode_strings(alias, v) for v in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    raise InvalidArgument(f"input '{alias}': expected strings or {{\"b64\": ...}} objects")


def _to_array(spec: LoadedTensor, value: Any) -> np.ndarray:
    """Large numeric arrays arrive as NumericText (_numeric_json.py): parsed here, once the
    dtype is known, without a Python object per number; rows of them are stacked."""
    numeric = isinstance(value, NumericText) or (
        isinstance(value, list) and any(isinstance(v, NumericText) for v in value)
    )
    if numeric and spec.dtype == object:
        raise InvalidArgument(f"input '{spec.alias}': expected strings or {{\"b64\": ...}} objects")
    if isinstance(value, NumericText):
        return to_array(spec.alias, value, spec.dtype, spec.dtype_name)
    if numeric:
        rows = [_to_array(spec, v) for v in value]
        if len({row.shape for row in rows}) != 1:
            raise InvalidArgument(f"input '{spec.alias}': rows differ in shape")
        return np.stack(rows)
    if spec.dtype == object:
        decoded = _decode_strings(spec.alias, value)
        array = np.empty(_nested_shape(decoded), dtype=object)
        array[...] = decoded
        return array
    try:
        return np.asarray(value, dtype=spec.dtype)
    except (ValueError, TypeError) as error:
        raise InvalidArgument(
            f"input '{spec.alias}': cannot convert to {spec.dtype_name}: {error}"
        ) from error


def _nested_shape(value: Any) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(shape)


def parse_predict_body(body: Any, signature: LoadedSignature) -> tuple[dict[str, np.ndarray], bool]:
    """Returns (inputs, row_format)."""
    if not isinstance(body, dict):
        raise InvalidArgument("request body must be a JSON object")
    has_rows, has_columns = "instances" in body, "inputs" in body
    if has_rows == has_columns:
        raise InvalidArgument('request must contain exactly one of "instances" or "inputs"')
    aliases = list(signature.inputs)
    if has_rows:
        instances = body["instances"]
        if isinstance(instances, NumericText):  # rows of numbers for the only input
            if len(aliases) != 1:
                raise InvalidArgument("each instance must be an object naming every input")
            (alias,) = aliases
            return {alias: _to_array(signature.inputs[alias], instances)}, True
        if not isinstance(instances, list):
            raise InvalidArgument('"instances" must be a list')
        columns: dict[str, list[Any]] = {a: [] for a in aliases}
        for row in instances:
            named = isinstance(row, dict) and "b64" not in row
            if not named and len(aliases) != 1:
                raise InvalidArgument("each instance must be an object naming every input")
            values = row if named else {aliases[0]: row}
            for alias in aliases:
                if alias not in values:
                    raise InvalidArgument(f"instance is missing input '{alias}'")
                columns[alias].append(values[alias])
        raw: Mapping[str, Any] = columns
    else:
        inputs = body["inputs"]
        named = isinstance(inputs, dict) and "b64" not in inputs
        raw = inputs if named else {aliases[0]: inputs} if len(aliases) == 1 else {}
        if not raw:
            raise InvalidArgument('"inputs" must be an object naming every input')
    unknown = [k for k in raw if k not in signature.inputs]
    if unknown:
        raise InvalidArgument(f"unknown inputs: {', '.join(unknown)}")
    return {k: _to_array(signature.inputs[k], v) for k, v in raw.items()}, has_rows


def _jsonable(alias: str, array: np.ndarray) -> Any:
    if array.dtype == object or array.dtype.kind == "S":
        as_bytes = alias.endswith("_bytes")

        def convert(item: Any) -> Any:
            if isinstance(item, list):
                return [convert(i) for i in item]
            if as_bytes:
                return {"b64": base64.b64encode(item).decode("ascii")}
            return item.decode("utf-8", errors="replace")

        return convert(array.tolist())
    return array.tolist()


def predict_response(outputs: Mapping[str, np.ndarray], row_format: bool) -> dict[str, Any]:
    if not row_format:
        columns = {k: _jsonable(k, v) for k, v in outputs.items()}
        return {"outputs": next(iter(columns.values())) if len(columns) == 1 else columns}
    if len(outputs) == 1:
        ((alias, array),) = outputs.items()
        return {"predictions": _jsonable(alias, array)}
    per_output = {k: _jsonable(k, v) for k, v in outputs.items()}
    rows = len(next(iter(per_output.values())))
    return {"predictions": [{k: v[i] for k, v in per_output.items()} for i in range(rows)]}


def error_json(message: str) -> bytes:
    """TF Serving's REST error shape: ``{"error": "<message>"}``."""
    return json.dumps({"error": message}).encode("utf-8")
