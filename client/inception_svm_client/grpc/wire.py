"""Typed edge between numpy/Python values and the TF Serving protobuf messages.

Everything that touches the dynamic message classes lives here, so the rest of the client
works with bytes, numpy arrays and dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from inception_svm_client.config import ModelTarget
from inception_svm_client.exceptions import MissingSignatureError, WireError
from inception_svm_client.protos import messages

DT_INVALID = 0
DT_FLOAT = 1
DT_DOUBLE = 2
DT_INT32 = 3
DT_UINT8 = 4
DT_INT16 = 5
DT_INT8 = 6
DT_STRING = 7
DT_INT64 = 9
DT_BOOL = 10

_NUMPY_DTYPES: dict[int, np.dtype[Any]] = {
    DT_FLOAT: np.dtype("<f4"),
    DT_DOUBLE: np.dtype("<f8"),
    DT_INT32: np.dtype("<i4"),
    DT_UINT8: np.dtype("u1"),
    DT_INT16: np.dtype("<i2"),
    DT_INT8: np.dtype("i1"),
    DT_INT64: np.dtype("<i8"),
    DT_BOOL: np.dtype("?"),
}
# Which repeated *_val field carries each dtype when tensor_content is empty.
_VAL_FIELDS: dict[int, str] = {
    DT_FLOAT: "float_val",
    DT_DOUBLE: "double_val",
    DT_INT32: "int_val",
    DT_UINT8: "int_val",
    DT_INT16: "int_val",
    DT_INT8: "int_val",
    DT_INT64: "int64_val",
    DT_BOOL: "bool_val",
}


def dtype_name(dtype: int) -> str:
    value = messages.DATA_TYPE.values_by_number.get(dtype)
    return value.name if value is not None else f"DataType({dtype})"


@dataclass(frozen=True)
class TensorSpec:
    """dtype and shape of one signature input/output; ``None`` shape = unknown rank."""

    dtype: int
    shape: tuple[int, ...] | None

    def describe(self) -> str:
        shape = "unknown rank" if self.shape is None else list(self.shape)
        return f"{dtype_name(self.dtype)} {shape}"


@dataclass(frozen=True)
class ServedSignature:
    """A served signature: the model version that answered and its tensor specs."""

    model_name: str
    model_version: int | None
    signature_name: str
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]


def model_spec_fields(spec: ModelTarget) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": spec.model_name, "signature_name": spec.signature_name}
    if spec.version is not None:
        fields["version"] = {"value": spec.version}
    elif spec.version_label is not None:
        fields["version_label"] = spec.version_label
    return fields


def numeric_tensor(array: np.ndarray) -> Any:
    """numpy → TensorProto with ``tensor_content`` (what TF Serving itself sends back)."""
    for dtype, np_dtype in _NUMPY_DTYPES.items():
        if array.dtype.kind == np_dtype.kind and array.dtype.itemsize == np_dtype.itemsize:
            tensor = messages.TensorProto(dtype=dtype)
            for size in array.shape:
                tensor.tensor_shape.dim.add(size=size)
            tensor.tensor_content = np.ascontiguousarray(array, dtype=np_dtype).tobytes()
            return tensor
    raise WireError(f"no TensorProto dtype for numpy {array.dtype}")


def tensor_to_numpy(tensor: Any) -> np.ndarray:
    """Read ``tensor_content`` or the repeated ``*_val`` fields (scalar-broadcast as TF does)."""
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise WireError(f"tensor with unknown dimension in shape {list(shape)}")
    count = int(np.prod(shape, dtype=np.int64))
    if tensor.dtype == DT_STRING:
        strings = np.empty(len(tensor.string_val), dtype=object)
        strings[:] = list(tensor.string_val)
        return _fill(strings, shape, count)
    np_dtype = _NUMPY_DTYPES.get(tensor.dtype)
    if np_dtype is None:
        raise WireError(f"unsupported tensor dtype {dtype_name(tensor.dtype)}")
    if tensor.tensor_content:
        if len(tensor.tensor_content) != count * np_dtype.itemsize:
            raise WireError(
                f"tensor_content has {len(tensor.tensor_content)} bytes, "
                f"expected {count * np_dtype.itemsize} for shape {list(shape)}"
            )
        return np.frombuffer(tensor.tensor_content, dtype=np_dtype).reshape(shape)
    return _fill(
        np.asarray(getattr(tensor, _VAL_FIELDS[tensor.dtype]), dtype=np_dtype), shape, count
    )


def _fill(values: np.ndarray, shape: tuple[int, ...], count: int) -> np.ndarray:
    if values.size == count:
        return values.reshape(shape)
    if values.size == 1:  # TF's compact encoding: one value repeated over the shape
        return np.full(shape, values[0], dtype=values.dtype)
    raise WireError(f"{values.size} values for shape {list(shape)}")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def _string_tensor_map_entry(field_number: int, key: str, images: Sequence[bytes]) -> list[bytes]:
    """One ``map<string, TensorProto>`` entry holding a DT_STRING vector, as pieces to join.

    Why by hand: upb serialises multi-megabyte ``string_val`` fields at ~0.6 GB/s, and every
    intermediate multi-megabyte bytes object costs fresh pages; this makes the request in
    one join (the images are copied once). The bytes are exactly what protobuf would emit
    (a test parses them with TF Serving's own classes).
    """
    shape = _length_delimited(2, _varint(1 << 3 | 0) + _varint(len(images)))  # dim { size }
    tensor_head = _varint(1 << 3 | 0) + _varint(DT_STRING) + _length_delimited(2, shape)
    string_val = [(_varint(8 << 3 | 2) + _varint(len(image)), image) for image in images]
    tensor_len = len(tensor_head) + sum(len(tag) + len(image) for tag, image in string_val)
    entry_head = _length_delimited(1, key.encode()) + _varint(2 << 3 | 2) + _varint(tensor_len)
    entry_len = len(entry_head) + tensor_len
    pieces = [_varint(field_number << 3 | 2), _varint(entry_len), entry_head, tensor_head]
    for tag, image in string_val:
        pieces += (tag, image)
    return pieces


_PREDICT_INPUTS_FIELD = messages.PredictRequest.DESCRIPTOR.fields_by_name["inputs"].number


def encode_predict_request(spec: ModelTarget, images: Sequence[bytes]) -> bytes:
    """Serialized PredictRequest; protobuf merges concatenated fields, so the small part is
    serialized normally and the image tensor appended."""
    request = messages.PredictRequest(model_spec=model_spec_fields(spec))
    request.output_filter.extend([spec.output_name, *spec.extra_outputs])
    head: bytes = request.SerializeToString()
    tail = _string_tensor_map_entry(_PREDICT_INPUTS_FIELD, spec.input_name, images)
    return b"".join([head, *tail])


def encode_tensor_request(spec: ModelTarget, array: np.ndarray) -> bytes:
    """Serialized PredictRequest with one numeric input (``predict_pixels``' pixels)."""
    request = messages.PredictRequest(model_spec=model_spec_fields(spec))
    request.output_filter.extend([spec.output_name, *spec.extra_outputs])
    request.inputs[spec.input_name].CopyFrom(numeric_tensor(array))
    data: bytes = request.SerializeToString()
    return data


def _parse(message_class: Any, data: bytes) -> Any:
    """``FromString``, with protobuf's DecodeError (not a ValueError) turned into WireError."""
    try:
        return message_class.FromString(data)
    except DecodeError as error:
        raise WireError(str(error)) from None


def decode_predict_response(data: bytes, output_name: str) -> np.ndarray:
    response = _parse(messages.PredictResponse, data)
    if output_name not in response.outputs:
        raise WireError(f"response has no output {output_name!r} (has {sorted(response.outputs)})")
    return tensor_to_numpy(response.outputs[output_name])


def decode_outputs(
    data: bytes, output_names: Sequence[str], batch_size: int
) -> tuple[dict[str, np.ndarray], str, int | None]:
    """Several outputs of one Predict response, each with one row per image sent, and the
    model name and version that answered."""
    response = _parse(messages.PredictResponse, data)
    outputs = {}
    for name in output_names:
        if name not in response.outputs:
            raise WireError(f"response has no output {name!r} (has {sorted(response.outputs)})")
        array = tensor_to_numpy(response.outputs[name])
        if array.ndim < 1 or array.shape[0] != batch_size:
            raise WireError(f"{batch_size} images gave {name!r} of shape {list(array.shape)}")
        outputs[name] = array
    return (outputs, *_answered_by(response))


def _answered_by(response: Any) -> tuple[str, int | None]:
    """TF Serving names the model and version that actually answered in ``model_spec``:
    that is how a mid-stream version swap shows."""
    spec = response.model_spec
    return spec.name, int(spec.version.value) if spec.HasField("version") else None


def decode_logits(data: bytes, output_name: str, batch_size: int) -> np.ndarray:
    """The ``[batch_size, D]`` output of a Predict response: one row per image sent."""
    return decode_predict(data, output_name, batch_size).logits


@dataclass(frozen=True)
class PredictOutput:
    """The logits of one Predict response and the model spec that produced them."""

    logits: np.ndarray
    model_name: str
    model_version: int | None


def decode_predict(data: bytes, output_name: str, batch_size: int) -> PredictOutput:
    """Logits ``[batch_size, D]`` plus the response's ``model_spec`` (TF Serving names the
    version that actually answered there, which is how a mid-stream version swap shows)."""
    response = _parse(messages.PredictResponse, data)
    if output_name not in response.outputs:
        raise WireError(f"response has no output {output_name!r} (has {sorted(response.outputs)})")
    logits = tensor_to_numpy(response.outputs[output_name])
    if logits.ndim != 2 or logits.shape[0] != batch_size:
        raise WireError(f"{batch_size} images gave {output_name!r} of shape {list(logits.shape)}")
    return PredictOutput(logits, *_answered_by(response))


def encode_metadata_request(spec: ModelTarget) -> bytes:
    fields = model_spec_fields(spec)
    fields.pop("signature_name")  # metadata is per model, not per signature
    request = messages.GetModelMetadataRequest(model_spec=fields, metadata_field=["signature_def"])
    data: bytes = request.SerializeToString()
    return data


def _tensor_spec(info: Any) -> TensorSpec:
    shape = info.tensor_shape
    dims = None if shape.unknown_rank else tuple(int(d.size) for d in shape.dim)
    return TensorSpec(dtype=int(info.dtype), shape=dims)


def decode_metadata_response(data: bytes, signature_name: str) -> ServedSignature:
    response = _parse(messages.GetModelMetadataResponse, data)
    packed = response.metadata.get("signature_def")
    if packed is None:
        raise WireError("GetModelMetadata response has no 'signature_def' entry")
    expected_type = messages.SignatureDefMap.DESCRIPTOR.full_name
    if packed.type_url.rsplit("/", 1)[-1] != expected_type:
        raise WireError(f"signature_def holds {packed.type_url!r}, expected {expected_type}")
    signature_map = _parse(messages.SignatureDefMap, packed.value)
    if signature_name not in signature_map.signature_def:
        available = sorted(signature_map.signature_def)
        raise MissingSignatureError(f"model has no signature {signature_name!r} (has {available})")
    signature_def = signature_map.signature_def[signature_name]
    spec = response.model_spec
    return ServedSignature(
        model_name=spec.name,
        model_version=int(spec.version.value) if spec.HasField("version") else None,
        signature_name=signature_name,
        inputs={name: _tensor_spec(info) for name, info in signature_def.inputs.items()},
        outputs={name: _tensor_spec(info) for name, info in signature_def.outputs.items()},
    )


@dataclass(frozen=True)
class VersionStatus:
    """One entry of a GetModelStatus reply: version, state name, error message if any."""

    version: int
    state: str  # ModelVersionStatus.State name: AVAILABLE, LOADING, END, ...
    error_message: str


def encode_status_request(spec: ModelTarget) -> bytes:
    fields = model_spec_fields(spec)
    fields.pop("signature_name")  # status is per model (and version), not per signature
    data: bytes = messages.GetModelStatusRequest(model_spec=fields).SerializeToString()
    return data


def decode_status_response(data: bytes) -> list[VersionStatus]:
    response = _parse(messages.GetModelStatusResponse, data)
    states = messages.MODEL_VERSION_STATE.values_by_number
    return [
        VersionStatus(
            version=int(entry.version),
            state=states[entry.state].name if entry.state in states else str(entry.state),
            error_message=entry.status.error_message,
        )
        for entry in response.model_version_status
    ]
