"""Featurizer behaviour against a server built on TF Serving's official stubs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import grpc
import numpy as np
import pytest

from inception_svm_client.errors import ClientError, SignatureMismatchError
from inception_svm_client.featurizer import Featurizer
from inception_svm_client.featurizer_config import (
    ChannelConfig,
    FeaturizerConfig,
    RetryPolicy,
    TlsConfig,
)
from inception_svm_client.inputs import bytes_inputs
from tests.client.official_stub_server import (
    REJECTED_PREFIX,
    Script,
    expected_features,
    scripted_server,
)

FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05)


def images(count: int) -> list[bytes]:
    return [f"image-{i}".encode() for i in range(count)]


def featurize(target: str, data: list[bytes], **config: object) -> list:
    featurizer_config = FeaturizerConfig(retry=FAST_RETRY, **config)  # type: ignore[arg-type]
    with Featurizer.connect(ChannelConfig(target=target), featurizer_config) as featurizer:
        return list(featurizer.featurize(bytes_inputs(data)))


def test_results_come_back_in_input_order_with_batches_of_n() -> None:
    script = Script()
    data = images(23)
    with scripted_server(script) as target:
        results = featurize(target, data, batch_size=5, max_in_flight=3)
    assert [r.key for r in results] == [f"#{i}" for i in range(23)]
    for result, image in zip(results, data, strict=True):
        np.testing.assert_array_equal(result.features, expected_features(image, 8))
    assert sorted(script.batch_sizes) == [3, 5, 5, 5, 5]


def test_a_slow_stream_is_flushed_after_the_batch_timeout() -> None:
    script = Script()

    def slow_stream() -> Iterator[bytes]:
        yield from images(2)
        time.sleep(1.0)  # far beyond the 20 ms batch timeout
        yield from [b"late-1", b"late-2"]

    with scripted_server(script) as target:
        results = featurize(target, list(slow_stream()), batch_size=100)
        assert script.batch_sizes == [4]  # control: a ready list fills one batch
        script.batch_sizes.clear()
        config = FeaturizerConfig(batch_size=100, batch_timeout_ms=20, retry=FAST_RETRY)
        with Featurizer.connect(ChannelConfig(target=target), config) as featurizer:
            streamed = list(featurizer.featurize(bytes_inputs(slow_stream())))
    assert script.batch_sizes == [2, 2]
    assert [r.key for r in streamed] == [r.key for r in results]


def test_unavailable_batches_are_retried_not_dropped() -> None:
    script = Script(fail_first=3)
    with scripted_server(script) as target:
        results = featurize(target, images(4), batch_size=4)
    assert all(r.features is not None for r in results)
    assert script.calls == 4


def test_capped_attempts_give_up_with_the_grpc_status_as_records() -> None:
    script = Script(fail_first=100, fail_code=grpc.StatusCode.DEADLINE_EXCEEDED)
    with scripted_server(script) as target:
        results = featurize(target, images(2))
    assert [(r.key, r.code) for r in results] == [
        ("#0", "DEADLINE_EXCEEDED"),
        ("#1", "DEADLINE_EXCEEDED"),
    ]
    assert script.calls == FAST_RETRY.max_attempts


def test_exhausted_budget_gives_every_input_one_record_and_stops_sending() -> None:
    script = Script(fail_first=10_000)
    policy = RetryPolicy(budget_s=0.5, initial_backoff_s=0.01, max_backoff_s=0.05)
    config = FeaturizerConfig(retry=policy, batch_size=2, max_in_flight=2)
    with (
        scripted_server(script) as target,
        Featurizer.connect(ChannelConfig(target=target), config) as featurizer,
    ):
        results = list(featurizer.featurize(bytes_inputs(images(40))))
    assert [r.key for r in results] == [f"#{i}" for i in range(40)]
    assert {r.code for r in results} == {"RETRY_BUDGET_EXHAUSTED"}
    assert "first failure UNAVAILABLE: " in (results[0].error or "")
    assert any((r.error or "").startswith("not sent: ") for r in results)
    # Two batches in flight retry for 0.5 s with backoff of at most 50 ms; the 18 batches
    # after them are never sent.
    assert script.calls < 2 * 0.5 / 0.005


def test_invalid_argument_is_bisected_to_the_bad_images() -> None:
    script = Script()
    data = images(9)
    data[6] = REJECTED_PREFIX + b"corrupt"
    with scripted_server(script) as target:
        results = featurize(target, data, batch_size=9)
    errors = {r.key: r.error for r in results if r.error is not None}
    assert list(errors) == ["#6"]
    assert "Invalid JPEG data" in (errors["#6"] or "")
    assert sum(r.features is not None for r in results) == 8


def test_float_val_responses_are_parsed() -> None:
    script = Script(use_float_val=True)
    data = images(3)
    with scripted_server(script) as target:
        results = featurize(target, data)
    for result, image in zip(results, data, strict=True):
        np.testing.assert_array_equal(result.features, expected_features(image, 8))


class GarbageCall:
    def __call__(self, request: bytes, **kwargs: object) -> bytes:
        return b"garbage, not protobuf"

    def future(self, request: bytes, **kwargs: object) -> Future[bytes]:
        answered: Future[bytes] = Future()
        answered.set_result(self(request))
        return answered


class GarbageChannel:
    """A channel whose every call answers bytes that do not parse as a protobuf message."""

    def unary_unary(self, method: str) -> GarbageCall:
        return GarbageCall()


def test_an_unparseable_predict_response_is_a_bad_response() -> None:
    featurizer = Featurizer(GarbageChannel())  # type: ignore[arg-type]
    with pytest.raises(ClientError) as raised:
        featurizer.predict([b"image"])
    assert raised.value.code == "BAD_RESPONSE"
    assert "Error parsing" in raised.value.details


def test_feature_dimension_mismatch_names_both_sizes() -> None:
    with (
        scripted_server(Script(feature_dim=8)) as target,
        Featurizer.connect(ChannelConfig(target=target), expected_feature_dim=1001) as featurizer,
        pytest.raises(SignatureMismatchError, match=r"8 features .* expects 1001"),
    ):
        list(featurizer.featurize(bytes_inputs(images(1))))


def test_wrong_input_dtype_is_refused_before_any_predict() -> None:
    script = Script(input_dtype=1)  # DT_FLOAT instead of encoded strings
    with (
        scripted_server(script) as target,
        pytest.raises(SignatureMismatchError, match=r"DT_FLOAT .*expected DT_STRING"),
    ):
        featurize(target, images(1))
    assert script.calls == 0


def test_mtls(tmp_path: Path) -> None:
    from tests.reliability.certs import make_test_pki

    pki = make_test_pki(tmp_path)
    server_credentials = grpc.ssl_server_credentials(
        [(pki.server_key.read_bytes(), pki.server_cert.read_bytes())],
        root_certificates=pki.ca_cert.read_bytes(),
        require_client_auth=True,
    )
    data = images(3)
    with scripted_server(Script(), server_credentials) as target:
        target = target.replace("127.0.0.1", "localhost")
        mtls = TlsConfig(
            root_cert=pki.ca_cert, client_cert=pki.client_cert, client_key=pki.client_key
        )
        with Featurizer.connect(ChannelConfig(target=target, tls=mtls)) as featurizer:
            results = list(featurizer.featurize(bytes_inputs(data)))
        assert [r.features is not None for r in results] == [True] * 3
        tls_only = FeaturizerConfig(retry=RetryPolicy(max_attempts=1))
        with (
            Featurizer.connect(
                ChannelConfig(target=target, tls=TlsConfig(root_cert=pki.ca_cert)), tls_only
            ) as f,
            pytest.raises(ClientError) as raised,
        ):
            f.fetch_signature()
        assert raised.value.code == "UNAVAILABLE"


def test_mtls_needs_both_certificate_and_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both"):
        TlsConfig(root_cert=tmp_path / "ca.pem", client_cert=tmp_path / "c.pem")


def test_one_client_spreads_batches_over_every_address_with_round_robin() -> None:
    """A headless Service resolves to one address per pod; without round_robin gRPC would
    pin every call to the first one (pick_first). Two servers stand in for two pods."""
    first, second = Script(), Script()
    with scripted_server(first) as a, scripted_server(second) as b:
        target = f"ipv4:{a},{b}"
        results = featurize(target, images(40), batch_size=2, max_in_flight=1)
    assert all(r.features is not None for r in results)
    assert len(first.batch_sizes) + len(second.batch_sizes) == 20
    assert first.batch_sizes and second.batch_sizes, (first.batch_sizes, second.batch_sizes)
