"""Where the stand-in used to differ from tensorflow_model_server, each checked in TF
Serving's source: zero-padded version directories (``file_system_storage_path_source.cc``
parses names with ``absl::SimpleAtoi``; its own test models live in ``00000123/``) and the
output form chosen by ``--enable_serialization_as_tensor_content`` (``server.h``,
``predict_util.cc``). The thin client must read both output forms."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_service_pb2_grpc

from inception_svm_client.config import ChannelConfig, FeaturizerConfig
from inception_svm_client.grpc._featurizer import Featurizer
from tests.harness import ServerHandle, running_server
from tests.serving_calls import predict_request, string_tensor

PADDED = "00000123"


@pytest.fixture(scope="module")
def content_server(
    tmp_path_factory: pytest.TempPathFactory, model_base_path: Path
) -> Iterator[ServerHandle]:
    """The session export as version ``00000123``, outputs as tensor_content."""
    base = tmp_path_factory.mktemp("padded") / "inception_v1"
    shutil.copytree(model_base_path / "1", base / PADDED)
    flags = ["--enable_serialization_as_tensor_content=true"]
    with running_server(base, extra_flags=flags) as handle:
        yield handle


def test_zero_padded_version_directory_is_served_as_its_number(
    content_server: ServerHandle, jpeg_images: list[bytes]
) -> None:
    import grpc

    with grpc.insecure_channel(content_server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        reply = stub.Predict(predict_request(string_tensor(jpeg_images[:1]), version=123))
    assert reply.model_spec.version.value == 123
    logits = reply.outputs["logits"]
    assert logits.tensor_content and not logits.float_val  # the flag's form
    assert tf.make_ndarray(logits).shape == (1, 1001)


def test_thin_client_reads_both_output_forms_identically(
    stand_in: ServerHandle, content_server: ServerHandle, jpeg_images: list[bytes]
) -> None:
    features = []
    for server in (stand_in, content_server):  # float_val (default), tensor_content
        with Featurizer.connect(
            ChannelConfig(target=server.grpc_target), FeaturizerConfig()
        ) as client:
            features.append(client.predict(jpeg_images).features)
    np.testing.assert_array_equal(features[0], features[1])
