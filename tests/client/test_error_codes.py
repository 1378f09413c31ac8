"""One error-code enum, one mapping from gRPC status: what each failure is called decides
whether the client retries it, splits the batch, or stops."""

from __future__ import annotations

import grpc
import pytest

from inception_svm_client.config import FeaturizerConfig, ModelTarget
from inception_svm_client.exceptions import ClientError, ErrorCode, SignatureMismatchError
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.grpc._retry import should_retry, should_split
from tests.client.featurizer_clients import FeaturizerClient, both_clients
from tests.client.official_stub_server import Script, scripted_server


def test_every_grpc_status_maps_to_the_code_of_its_name() -> None:
    for status in grpc.StatusCode:
        assert ErrorCode.from_status(status) == status.name


def _predict_error(channel: grpc.Channel, image: bytes) -> ClientError:
    with pytest.raises(ClientError) as raised:
        Featurizer(channel).predict([image])
    return raised.value


def test_a_message_over_the_size_limit_is_split_not_retried() -> None:
    with (
        scripted_server(Script()) as target,
        grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 1024)]) as channel,
    ):
        error = _predict_error(channel, b"x" * 4096)
    assert error.code == ErrorCode.RESOURCE_EXHAUSTED and error.oversize, error
    assert should_split(error) and not should_retry(error)


def test_a_full_server_queue_is_retried_not_split() -> None:
    script = Script(fail_first=1, fail_code=grpc.StatusCode.RESOURCE_EXHAUSTED)
    with scripted_server(script) as target, grpc.insecure_channel(target) as channel:
        error = _predict_error(channel, b"image")
    assert error.code == ErrorCode.RESOURCE_EXHAUSTED and not error.oversize, error
    assert should_retry(error) and not should_split(error)


@both_clients
def test_an_unparseable_metadata_response_is_a_bad_response_like_predict(
    client: FeaturizerClient,
) -> None:
    with pytest.raises(ClientError) as raised:
        client.fetch_signature_over_garbage()
    assert raised.value.code == ErrorCode.BAD_RESPONSE, raised.value
    assert not isinstance(raised.value, SignatureMismatchError)


def test_a_missing_signature_is_a_signature_mismatch() -> None:
    config = FeaturizerConfig(target=ModelTarget(signature_name="no_such_signature"))
    with (
        scripted_server(Script()) as target,
        grpc.insecure_channel(target) as channel,
        pytest.raises(SignatureMismatchError, match="no_such_signature"),
    ):
        Featurizer(channel, config).fetch_signature()
