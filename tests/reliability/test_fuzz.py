"""Fuzz the server's request decoding path: random image bytes and random TensorProtos.

Whatever arrives, the answer must be OK or INVALID_ARGUMENT (the caller's fault, said
clearly); UNKNOWN or INTERNAL would mean an unhandled path in the decoder, and a hang or a
dead process is a denial of service. Every call carries a deadline, so a hang fails the
test as DEADLINE_EXCEEDED instead of stalling CI. Sizes are kept small on purpose: the
point is coverage of decoding branches, not memory pressure (test_bad_requests does that).
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from tests.harness import ServerHandle, health_serving
from tests.paths import car_photos
from tests.serving_calls import predict, predict_request, string_tensor

ACCEPTABLE = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}
CALL_DEADLINE_S = 30
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
DTYPES = [
    types_pb2.DT_STRING,
    types_pb2.DT_FLOAT,
    types_pb2.DT_DOUBLE,
    types_pb2.DT_INT32,
    types_pb2.DT_UINT8,
    types_pb2.DT_INT64,
    types_pb2.DT_BOOL,
    types_pb2.DT_HALF,
    types_pb2.DT_RESOURCE,
    types_pb2.DT_INVALID,
    987,  # not a DataType at all
]


@pytest.fixture(scope="module")
def channel(batching_server: ServerHandle) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(batching_server.grpc_target) as channel:
        yield channel


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A real photo header with random bytes flipped or cut: reaches deep decoder branches."""
    photo = bytearray(car_photos()[draw(st.integers(0, 26))].read_bytes()[:4096])
    for _ in range(draw(st.integers(1, 8))):
        photo[draw(st.integers(0, len(photo) - 1))] = draw(st.integers(0, 255))
    return bytes(photo[: draw(st.integers(0, len(photo)))])


@st.composite
def tensor_protos(draw: st.DrawFn) -> tensor_pb2.TensorProto:
    dims = draw(st.lists(st.integers(-2, 6), max_size=3))
    tensor = tensor_pb2.TensorProto(
        dtype=draw(st.sampled_from(DTYPES)),
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims],
            unknown_rank=draw(st.booleans()),
        ),
    )
    content = draw(
        st.sampled_from(["tensor_content", "string_val", "float_val", "int_val", "none"])
    )
    if content == "tensor_content":
        tensor.tensor_content = draw(st.binary(max_size=256))
    elif content == "string_val":
        tensor.string_val.extend(draw(st.lists(st.binary(max_size=64), max_size=6)))
    elif content == "float_val":
        tensor.float_val.extend(draw(st.lists(st.floats(width=32), max_size=6)))
    elif content == "int_val":
        tensor.int_val.extend(draw(st.lists(st.integers(-(2**31), 2**31 - 1), max_size=6)))
    return tensor


def _check(channel: grpc.Channel, tensor: tensor_pb2.TensorProto) -> None:
    outcome = predict(channel, predict_request(tensor), timeout_s=CALL_DEADLINE_S)
    assert outcome.code in ACCEPTABLE, (outcome.code, outcome.details, tensor)


def _assert_still_serving(server: ServerHandle) -> None:
    assert server.process.poll() is None, server.log_tail()
    assert health_serving(server.grpc_target)


def test_random_image_bytes_are_answered_cleanly(
    channel: grpc.Channel, batching_server: ServerHandle
) -> None:
    """Each fuzz test checks the server afterwards itself, so it proves that alone too."""

    @FUZZ_SETTINGS
    @given(
        payloads=st.lists(
            st.one_of(st.binary(max_size=512), mutated_images()), min_size=1, max_size=3
        )
    )
    def fuzz(payloads: list[bytes]) -> None:
        _check(channel, string_tensor(payloads))

    fuzz()
    _assert_still_serving(batching_server)


def test_random_tensor_protos_are_answered_cleanly(
    channel: grpc.Channel, batching_server: ServerHandle
) -> None:
    @FUZZ_SETTINGS
    @given(tensor=tensor_protos())
    def fuzz(tensor: tensor_pb2.TensorProto) -> None:
        _check(channel, tensor)

    fuzz()
    _assert_still_serving(batching_server)
