"""Featurizer behaviour against a server built on TF Serving's official stubs, checked for
both clients (``Featurizer`` and ``AsyncFeaturizer``, see featurizer_clients.py): they
share encoding, retry schedule, bisection and checks, so a test failing for one client only
is a bug in how that client waits. What only the asyncio client has (cancellation, its SVM
binding) is in grpc/aio/test_featurizer.py."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from inception_svm_client.config import (
    ChannelConfig,
    FeaturizerConfig,
    RetryPolicy,
    TlsConfig,
)
from inception_svm_client.exceptions import ClientError, SignatureMismatchError
from inception_svm_client.grpc._resolver import FeatureResult
from inception_svm_client.inputs import ImageInput, bytes_inputs
from tests.client.featurizer_clients import FeaturizerClient, Paused, both_clients
from tests.client.official_stub_server import (
    REJECTED_PREFIX,
    Script,
    expected_features,
    scripted_server,
)
from tests.reliability.certs import TestPki, make_test_pki

FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05)


def images(count: int) -> list[bytes]:
    return [f"image-{i}".encode() for i in range(count)]


def featurize(
    client: FeaturizerClient, target: str, data: list[bytes], **config: object
) -> list[FeatureResult]:
    featurizer_config = FeaturizerConfig(retry=FAST_RETRY, **config)  # type: ignore[arg-type]
    return client.featurize(ChannelConfig(target=target), bytes_inputs(data), featurizer_config)


@both_clients
def test_results_come_back_in_input_order_with_batches_of_n(client: FeaturizerClient) -> None:
    script = Script()
    data = images(23)
    with scripted_server(script) as target:
        results = featurize(client, target, data, batch_size=5, max_in_flight=3)
    assert [r.key for r in results] == [f"#{i}" for i in range(23)]
    for result, image in zip(results, data, strict=True):
        np.testing.assert_array_equal(result.features, expected_features(image, 8))
    assert sorted(script.batch_sizes) == [3, 5, 5, 5, 5]


@both_clients
def test_a_slow_stream_is_flushed_after_the_batch_timeout(client: FeaturizerClient) -> None:
    script = Script()
    data = [*images(2), b"late-1", b"late-2"]
    config = FeaturizerConfig(batch_size=100, batch_timeout_ms=20, retry=FAST_RETRY)
    with scripted_server(script) as target:
        channel = ChannelConfig(target=target)
        ready = client.featurize(channel, bytes_inputs(data), config)
        assert script.batch_sizes == [4]  # control: a ready list fills one batch
        script.batch_sizes.clear()
        inputs = [ImageInput(f"#{i}", image) for i, image in enumerate(data)]
        # The producer stalls far beyond the 20 ms batch timeout before the third image.
        streamed = client.featurize(channel, Paused(inputs, pause_before=2, pause_s=1.0), config)
    assert script.batch_sizes == [2, 2]
    assert [r.key for r in streamed] == [r.key for r in ready] == ["#0", "#1", "#2", "#3"]


@both_clients
def test_unavailable_batches_are_retried_not_dropped(client: FeaturizerClient) -> None:
    script = Script(fail_first=3)
    with scripted_server(script) as target:
        results = featurize(client, target, images(4), batch_size=4)
    assert all(r.features is not None for r in results)
    assert script.calls == 4


@both_clients
def test_capped_attempts_give_up_with_the_grpc_status_as_records(
    client: FeaturizerClient,
) -> None:
    script = Script(fail_first=100, fail_code=grpc.StatusCode.DEADLINE_EXCEEDED)
    with scripted_server(script) as target:
        results = featurize(client, target, images(2))
    assert [(r.key, r.code) for r in results] == [
        ("#0", "DEADLINE_EXCEEDED"),
        ("#1", "DEADLINE_EXCEEDED"),
    ]
    assert script.calls == FAST_RETRY.max_attempts


@both_clients
def test_exhausted_budget_gives_every_input_one_record_and_stops_sending(
    client: FeaturizerClient,
) -> None:
    script = Script(fail_first=10_000)
    policy = RetryPolicy(budget_s=0.5, initial_backoff_s=0.01, max_backoff_s=0.05)
    config = FeaturizerConfig(retry=policy, batch_size=2, max_in_flight=2)
    with scripted_server(script) as target:
        results = client.featurize(ChannelConfig(target=target), bytes_inputs(images(40)), config)
    assert [r.key for r in results] == [f"#{i}" for i in range(40)]
    assert {r.code for r in results} == {"RETRY_BUDGET_EXHAUSTED"}
    assert "first failure UNAVAILABLE: " in (results[0].error or "")
    assert any((r.error or "").startswith("not sent: ") for r in results)
    # Two batches in flight retry for 0.5 s with backoff of at most 50 ms; the 18 batches
    # after them are never sent.
    assert script.calls < 2 * 0.5 / 0.005


@both_clients
def test_invalid_argument_is_bisected_to_the_bad_images(client: FeaturizerClient) -> None:
    script = Script()
    data = images(9)
    data[6] = REJECTED_PREFIX + b"corrupt"
    with scripted_server(script) as target:
        results = featurize(client, target, data, batch_size=9)
    errors = {r.key: r.error for r in results if r.error is not None}
    assert list(errors) == ["#6"]
    assert "Invalid JPEG data" in (errors["#6"] or "")
    assert sum(r.features is not None for r in results) == 8


@both_clients
def test_float_val_responses_are_parsed(client: FeaturizerClient) -> None:
    script = Script(use_float_val=True)
    data = images(3)
    with scripted_server(script) as target:
        results = featurize(client, target, data)
    for result, image in zip(results, data, strict=True):
        np.testing.assert_array_equal(result.features, expected_features(image, 8))


@both_clients
def test_an_unparseable_predict_response_is_a_bad_response(client: FeaturizerClient) -> None:
    with pytest.raises(ClientError) as raised:
        client.predict_over_garbage([b"image"])
    assert raised.value.code == "BAD_RESPONSE"
    assert "Error parsing" in raised.value.details


@both_clients
def test_feature_dimension_mismatch_names_both_sizes(client: FeaturizerClient) -> None:
    with (
        scripted_server(Script(feature_dim=8)) as target,
        pytest.raises(SignatureMismatchError, match=r"8 features .* expects 1001"),
    ):
        client.featurize(
            ChannelConfig(target=target), bytes_inputs(images(1)), expected_feature_dim=1001
        )


@both_clients
def test_wrong_input_dtype_is_refused_before_any_predict(client: FeaturizerClient) -> None:
    script = Script(input_dtype=1)  # DT_FLOAT instead of encoded strings
    with (
        scripted_server(script) as target,
        pytest.raises(SignatureMismatchError, match=r"DT_FLOAT .*expected DT_STRING"),
    ):
        featurize(client, target, images(1))
    assert script.calls == 0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@both_clients
def test_mtls(client: FeaturizerClient, pki: TestPki) -> None:
    server_credentials = grpc.ssl_server_credentials(
        [(pki.server_key.read_bytes(), pki.server_cert.read_bytes())],
        root_certificates=pki.ca_cert.read_bytes(),
        require_client_auth=True,
    )
    with scripted_server(Script(), server_credentials) as target:
        target = target.replace("127.0.0.1", "localhost")
        mtls = TlsConfig(
            root_cert=pki.ca_cert, client_cert=pki.client_cert, client_key=pki.client_key
        )
        results = client.featurize(ChannelConfig(target=target, tls=mtls), bytes_inputs(images(3)))
        assert [r.features is not None for r in results] == [True] * 3
        tls_only = ChannelConfig(target=target, tls=TlsConfig(root_cert=pki.ca_cert))
        one_attempt = FeaturizerConfig(retry=RetryPolicy(max_attempts=1))
        with pytest.raises(ClientError) as raised:
            client.fetch_signature(tls_only, one_attempt)
        assert raised.value.code == "UNAVAILABLE"


def test_mtls_needs_both_certificate_and_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both"):
        TlsConfig(root_cert=tmp_path / "ca.pem", client_cert=tmp_path / "c.pem")


@both_clients
def test_one_client_spreads_batches_over_every_address_with_round_robin(
    client: FeaturizerClient,
) -> None:
    """A headless Service resolves to one address per pod; without round_robin gRPC would
    pin every call to the first one (pick_first). Two servers stand in for two pods."""
    first, second = Script(), Script()
    with scripted_server(first) as a, scripted_server(second) as b:
        target = f"ipv4:{a},{b}"
        results = featurize(client, target, images(40), batch_size=2, max_in_flight=1)
    assert all(r.features is not None for r in results)
    assert len(first.batch_sizes) + len(second.batch_sizes) == 20
    assert first.batch_sizes and second.batch_sizes, (first.batch_sizes, second.batch_sizes)
