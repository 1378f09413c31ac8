"""numpy output → TensorProto, in either of the two forms tensorflow_model_server writes.

By default the real server fills the typed repeated fields (``float_val``, ``int64_val``,
...: ``Tensor::AsProtoField``) and writes the packed ``tensor_content`` bytes only with
``--enable_serialization_as_tensor_content=true`` (``model_servers/server.h`` default
false, ``server.cc`` → ``PredictResponseTensorSerializationOption::kAsProtoContent``,
applied in ``servables/tensorflow/predict_util.cc``). Clients written against TF Serving
examples read ``outputs[...].float_val``; the stand-in must answer them the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

# numpy kind+size → the repeated field AsProtoField fills (tensor.proto).
_TYPED_FIELDS: dict[tuple[str, int], str] = {
    ("f", 4): "float_val",
    ("f", 8): "double_val",
    ("i", 4): "int_val",
    ("i", 2): "int_val",
    ("i", 1): "int_val",
    ("u", 1): "int_val",
    ("u", 2): "int_val",
    ("i", 8): "int64_val",
    ("b", 1): "bool_val",
}
# Fixed-width fields are packed little-endian on the wire, byte for byte what tensor_content
# holds: merging tag + length + raw bytes fills them without a Python loop per value.
_PACKED_FIXED_FIELDS = {"float_val", "double_val"}


def array_to_tensor(array: np.ndarray, *, as_tensor_content: bool) -> Any:
    """A TensorProto holding ``array`` in the server's configured form."""
    field = _TYPED_FIELDS.get((array.dtype.kind, array.dtype.itemsize))
    if as_tensor_content or field is None:
        # make_tensor_proto packs numbers into tensor_content; strings (and dtypes without
        # a simple typed field) go where TF puts them in either mode.
        return tf.make_tensor_proto(array)
    proto = tf.make_tensor_proto(np.zeros((0,), array.dtype))  # dtype only, no content
    proto.tensor_shape.Clear()
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    if field in _PACKED_FIXED_FIELDS:
        number = proto.DESCRIPTOR.fields_by_name[field].number
        payload = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
        proto.MergeFromString(_varint(number << 3 | 2) + _varint(len(payload)) + payload)
    else:
        getattr(proto, field).extend(array.ravel().tolist())
    return proto


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            return bytes(out)
