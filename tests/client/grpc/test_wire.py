"""Our minimal protos: up to date, wire-compatible with TF Serving's, and parsed right."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool

from inception_svm_client.config import ModelTarget
from inception_svm_client.grpc import wire
from inception_svm_client.protos import build, messages

OUR_MESSAGES = [
    "tensorflow.TensorProto",
    "tensorflow.TensorShapeProto",
    "tensorflow.TensorShapeProto.Dim",
    "tensorflow.TensorInfo",
    "tensorflow.SignatureDef",
    "tensorflow.serving.ModelSpec",
    "tensorflow.serving.PredictRequest",
    "tensorflow.serving.PredictResponse",
    "tensorflow.serving.SignatureDefMap",
    "tensorflow.serving.GetModelMetadataRequest",
    "tensorflow.serving.GetModelMetadataResponse",
]


def test_checked_in_descriptors_are_up_to_date(tmp_path: Path) -> None:
    # In a subprocess: grpc_tools' protoc segfaults in a process that has loaded TensorFlow.
    fresh = tmp_path / "descriptors.binpb"
    subprocess.run(
        [sys.executable, "-m", "inception_svm_client.protos.build", "--output", str(fresh)],
        check=True,
        capture_output=True,
        timeout=120,
    )

    def parsed(data: bytes) -> descriptor_pb2.FileDescriptorSet:
        return descriptor_pb2.FileDescriptorSet.FromString(data)

    assert parsed(build.DESCRIPTORS_PATH.read_bytes()) == parsed(fresh.read_bytes()), (
        "run `make protos` and commit descriptors.binpb"
    )


@pytest.mark.parametrize("full_name", OUR_MESSAGES)
def test_every_field_matches_the_official_definition(full_name: str) -> None:
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2  # noqa: F401

    official = descriptor_pool.Default().FindMessageTypeByName(full_name)
    ours = messages.POOL.FindMessageTypeByName(full_name)
    for field in ours.fields:
        counterpart = official.fields_by_number[field.number]
        assert (field.name, field.type, field.is_repeated) == (
            counterpart.name,
            counterpart.type,
            counterpart.is_repeated,
        )
        if field.message_type is not None:
            assert field.message_type.full_name == counterpart.message_type.full_name


def test_data_type_values_match_the_official_enum() -> None:
    from tensorflow.core.framework import types_pb2

    for value in messages.DATA_TYPE.values:
        assert types_pb2.DataType.Value(value.name) == value.number


def test_service_paths_match_the_official_stub() -> None:
    from tensorflow_serving.apis import prediction_service_pb2

    service = prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"]
    for path in (messages.PREDICT_METHOD, messages.GET_MODEL_METADATA_METHOD):
        method = path.rsplit("/", 1)[1]
        assert f"/{service.full_name}/{method}" == path


@pytest.mark.parametrize(("count", "size"), [(0, 0), (2, 1), (3, 200), (130, 70_000)])
def test_hand_encoded_request_equals_the_official_message(count: int, size: int) -> None:
    from tensorflow_serving.apis import predict_pb2

    images = [bytes([i % 251]) * (size + i) for i in range(count)]
    spec = ModelTarget(model_name="m", version=3)
    expected = predict_pb2.PredictRequest(output_filter=["logits"])
    expected.model_spec.name = "m"
    expected.model_spec.signature_name = "serving_default"
    expected.model_spec.version.value = 3
    tensor = expected.inputs["images"]
    tensor.dtype = 7
    tensor.tensor_shape.dim.add(size=count)
    tensor.string_val.extend(images)
    assert predict_pb2.PredictRequest.FromString(wire.encode_predict_request(spec, images)) == (
        expected
    )


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "bool"])
def test_numeric_round_trip_through_tensor_content(dtype: str) -> None:
    array = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    decoded = wire.tensor_to_numpy(wire.numeric_tensor(array))
    np.testing.assert_array_equal(decoded, array)
    assert decoded.dtype == array.dtype


def test_val_fields_including_scalar_broadcast() -> None:
    tensor = messages.TensorProto(dtype=wire.DT_FLOAT, float_val=[1.5, 2.5])
    tensor.tensor_shape.dim.add(size=2)
    np.testing.assert_array_equal(wire.tensor_to_numpy(tensor), [1.5, 2.5])
    filled = messages.TensorProto(dtype=wire.DT_INT64, int64_val=[7])
    filled.tensor_shape.dim.add(size=3)
    np.testing.assert_array_equal(wire.tensor_to_numpy(filled), [7, 7, 7])


def test_inconsistent_tensors_are_refused() -> None:
    tensor = messages.TensorProto(dtype=wire.DT_FLOAT, tensor_content=b"\0" * 7)
    tensor.tensor_shape.dim.add(size=2)
    with pytest.raises(wire.WireError, match="7 bytes"):
        wire.tensor_to_numpy(tensor)
    wrong_count = messages.TensorProto(dtype=wire.DT_FLOAT, float_val=[1.0, 2.0])
    wrong_count.tensor_shape.dim.add(size=3)
    with pytest.raises(wire.WireError, match="2 values"):
        wire.tensor_to_numpy(wrong_count)


def test_unparseable_responses_are_wire_errors() -> None:
    # protobuf's DecodeError is not a ValueError: wire must not let it through.
    with pytest.raises(wire.WireError, match="Error parsing"):
        wire.decode_predict_response(b"garbage, not protobuf", "logits")
    with pytest.raises(wire.WireError, match="Error parsing"):
        wire.decode_metadata_response(b"garbage, not protobuf", "serving_default")


def test_logits_need_one_row_per_image() -> None:
    response = messages.PredictResponse()
    response.outputs["logits"].CopyFrom(wire.numeric_tensor(np.zeros((2, 3), np.float32)))
    data = response.SerializeToString()
    assert wire.decode_logits(data, "logits", 2).shape == (2, 3)
    with pytest.raises(wire.WireError, match=r"3 images gave 'logits' of shape \[2, 3\]"):
        wire.decode_logits(data, "logits", 3)
