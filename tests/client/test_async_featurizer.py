"""AsyncFeaturizer: the sync featurizer's tests (test_featurizer.py), on asyncio.

Same scripted server on TF Serving's official stubs, same expectations: the two clients
share encoding, retry schedule, bisection and checks, so any difference here is a bug in
how the asyncio side waits. pytest has no asyncio plugin here: each test runs its
coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np
import pytest

from inception_svm_client import AsyncFeaturizer, FeatureResult, Featurizer
from inception_svm_client.config import ChannelConfig, FeaturizerConfig, RetryPolicy
from inception_svm_client.errors import ClientError, SignatureMismatchError
from inception_svm_client.inputs import ImageInput, bytes_inputs, path_inputs
from inception_svm_client.svm import SvmClassifier
from tests.client.official_stub_server import (
    REJECTED_PREFIX,
    Script,
    expected_features,
    scripted_server,
)
from tests.client.test_featurizer import FAST_RETRY, images
from tests.harness import ServerHandle
from tests.paths import CARS_DIR

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def collect(featurizer: AsyncFeaturizer, inputs: Any) -> list[FeatureResult]:
    return [result async for result in featurizer.featurize(inputs)]


async def featurize(target: str, data: list[bytes], **config: object) -> list[FeatureResult]:
    featurizer_config = FeaturizerConfig(retry=FAST_RETRY, **config)  # type: ignore[arg-type]
    async with AsyncFeaturizer.connect(ChannelConfig(target), featurizer_config) as featurizer:
        return await collect(featurizer, bytes_inputs(data))


def test_results_come_back_in_input_order_with_batches_of_n() -> None:
    script = Script()
    data = images(23)
    with scripted_server(script) as target:
        results = run(featurize(target, data, batch_size=5, max_in_flight=3))
    assert [r.key for r in results] == [f"#{i}" for i in range(23)]
    for result, image in zip(results, data, strict=True):
        np.testing.assert_array_equal(result.features, expected_features(image, 8))
    assert sorted(script.batch_sizes) == [3, 5, 5, 5, 5]


def test_a_slow_async_stream_is_flushed_after_the_batch_timeout() -> None:
    script = Script()

    async def slow_stream() -> AsyncIterator[ImageInput]:
        for index, data in enumerate([*images(2), b"late-1", b"late-2"]):
            if index == 2:
                await asyncio.sleep(1.0)  # far beyond the 20 ms batch timeout
            yield ImageInput(f"#{index}", data)

    async def stream(target: str) -> list[FeatureResult]:
        config = FeaturizerConfig(batch_size=100, batch_timeout_ms=20, retry=FAST_RETRY)
        async with AsyncFeaturizer.connect(ChannelConfig(target), config) as featurizer:
            return await collect(featurizer, slow_stream())

    with scripted_server(script) as target:
        streamed = run(stream(target))
    assert script.batch_sizes == [2, 2]
    assert [r.key for r in streamed] == ["#0", "#1", "#2", "#3"]


def test_unavailable_batches_are_retried_not_dropped() -> None:
    script = Script(fail_first=3)
    with scripted_server(script) as target:
        results = run(featurize(target, images(4), batch_size=4))
    assert all(r.features is not None for r in results)
    assert script.calls == 4


def test_capped_attempts_give_up_with_the_grpc_status_as_records() -> None:
    script = Script(fail_first=100, fail_code=grpc.StatusCode.DEADLINE_EXCEEDED)
    with scripted_server(script) as target:
        results = run(featurize(target, images(2)))
    assert [(r.key, r.code) for r in results] == [
        ("#0", "DEADLINE_EXCEEDED"),
        ("#1", "DEADLINE_EXCEEDED"),
    ]
    assert script.calls == FAST_RETRY.max_attempts


def test_exhausted_budget_gives_every_input_one_record_and_stops_sending() -> None:
    script = Script(fail_first=10_000)
    policy = RetryPolicy(budget_s=0.5, initial_backoff_s=0.01, max_backoff_s=0.05)
    config = FeaturizerConfig(retry=policy, batch_size=2, max_in_flight=2)

    async def stream(target: str) -> list[FeatureResult]:
        async with AsyncFeaturizer.connect(ChannelConfig(target), config) as featurizer:
            return await collect(featurizer, bytes_inputs(images(40)))

    with scripted_server(script) as target:
        results = run(stream(target))
    assert [r.key for r in results] == [f"#{i}" for i in range(40)]
    assert {r.code for r in results} == {"RETRY_BUDGET_EXHAUSTED"}
    assert "first failure UNAVAILABLE: " in (results[0].error or "")
    assert any((r.error or "").startswith("not sent: ") for r in results)
    assert script.calls < 2 * 0.5 / 0.005


def test_invalid_argument_is_bisected_to_the_bad_images() -> None:
    script = Script()
    data = images(9)
    data[6] = REJECTED_PREFIX + b"corrupt"
    with scripted_server(script) as target:
        results = run(featurize(target, data, batch_size=9))
    errors = {r.key: r.error for r in results if r.error is not None}
    assert list(errors) == ["#6"]
    assert "Invalid JPEG data" in (errors["#6"] or "")
    assert sum(r.features is not None for r in results) == 8


def test_float_val_responses_are_parsed() -> None:
    script = Script(use_float_val=True)
    data = images(3)
    with scripted_server(script) as target:
        results = run(featurize(target, data))
    for result, image in zip(results, data, strict=True):
        np.testing.assert_array_equal(result.features, expected_features(image, 8))


class GarbageCall:
    async def __call__(self, request: bytes, **kwargs: object) -> bytes:
        return b"garbage, not protobuf"


class GarbageChannel:
    """An asyncio channel whose every call answers bytes that are not a protobuf message."""

    def unary_unary(self, method: str) -> GarbageCall:
        return GarbageCall()


def test_an_unparseable_predict_response_is_a_bad_response() -> None:
    featurizer = AsyncFeaturizer(GarbageChannel())
    with pytest.raises(ClientError) as raised:
        run(featurizer.predict([b"image"]))
    assert raised.value.code == "BAD_RESPONSE"
    assert "Error parsing" in raised.value.details


def test_feature_dimension_mismatch_names_both_sizes() -> None:
    async def stream(target: str) -> list[FeatureResult]:
        channel = ChannelConfig(target)
        async with AsyncFeaturizer.connect(channel, expected_feature_dim=1001) as featurizer:
            return await collect(featurizer, bytes_inputs(images(1)))

    with (
        scripted_server(Script(feature_dim=8)) as target,
        pytest.raises(SignatureMismatchError, match=r"8 features .* expects 1001"),
    ):
        run(stream(target))


def test_wrong_input_dtype_is_refused_before_any_predict() -> None:
    script = Script(input_dtype=1)  # DT_FLOAT instead of encoded strings
    with (
        scripted_server(script) as target,
        pytest.raises(SignatureMismatchError, match=r"DT_FLOAT .*expected DT_STRING"),
    ):
        run(featurize(target, images(1)))
    assert script.calls == 0


def test_leaving_the_stream_early_cancels_the_batches_in_flight() -> None:
    """The asyncio interrupt: the consumer stops (break, cancellation) and the calls still
    in flight are cancelled, not left running behind its back."""
    script = Script(delays_s=(0.5, 1.5))

    async def first_then_leave(target: str) -> FeatureResult:
        config = FeaturizerConfig(batch_size=1, max_in_flight=3, retry=FAST_RETRY)
        async with AsyncFeaturizer.connect(ChannelConfig(target), config) as featurizer:
            results = featurizer.featurize(bytes_inputs(images(1000)))
            first = await anext(results)
            await results.aclose()
            # The server notices a cancellation only at the end of its delay.
            deadline = time.monotonic() + 30
            while script.cancelled < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return first

    with scripted_server(script) as target:
        first = run(first_then_leave(target))
    assert first.key == "#0" and first.features is not None
    # While the first batch took 0.5 s, the next two went out (max_in_flight=3), and
    # nothing more after the consumer left: those two were cancelled mid-call.
    assert script.calls == 3
    assert script.cancelled == 2


def test_same_features_as_the_sync_client_from_the_stand_in(stand_in: ServerHandle) -> None:
    """Against the real SavedModel: lazy path inputs (read off the event loop), and the
    features match the thread-based client's bit for bit."""
    paths = sorted(str(p) for p in (CARS_DIR / "unlabeled").iterdir())
    config = FeaturizerConfig(batch_size=4)
    channel = ChannelConfig(stand_in.grpc_target)
    with Featurizer.connect(channel, config) as featurizer:
        expected = list(featurizer.featurize(path_inputs(paths)))

    async def stream() -> list[FeatureResult]:
        async with AsyncFeaturizer.connect(channel, config) as featurizer:
            return await collect(featurizer, path_inputs(paths))

    results = run(stream())
    assert [r.key for r in results] == [r.key for r in expected] and len(results) >= 3
    for result, reference in zip(results, expected, strict=True):
        assert result.error is None and result.model_version == reference.model_version
        np.testing.assert_array_equal(result.features, reference.features)


def test_svm_bound_client_pins_its_version_and_refuses_another(
    stand_in: ServerHandle, trained_svm: Path
) -> None:
    svm = SvmClassifier.load(trained_svm)

    async def classify(model_name: str | None = None) -> list[FeatureResult]:
        config = FeaturizerConfig()
        if model_name is not None:
            from dataclasses import replace

            config = replace(config, signature=replace(config.signature, model_name=model_name))
        async with svm.connect_async(ChannelConfig(stand_in.grpc_target), config) as featurizer:
            assert featurizer.config.signature.version == svm.metadata.featurizer.model_version
            return await collect(featurizer, path_inputs([str(CARS_DIR / "unlabeled")]))

    results = run(classify())
    assert results and all(r.features is not None for r in results)
    assert svm.predict(np.stack([r.features for r in results if r.features is not None]))
    with pytest.raises(ClientError) as raised:
        run(classify("default"))
    assert raised.value.code == "NOT_FOUND"
    assert "the server serves: 'inception_v1'" in raised.value.details
