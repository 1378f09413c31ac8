"""What only the AsyncFeaturizer has: leaving or cancelling the stream cancels the calls in
flight, lazy inputs read off the event loop (bit-equal to the thread-based client), and
``SvmClassifier.connect_async``. Every behaviour the two clients share is checked for both
in tests/client/grpc/test_featurizer.py. pytest has no asyncio plugin here: each test runs
its coroutine with ``run_async``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inception_svm_client import AsyncFeaturizer, FeatureResult, Featurizer
from inception_svm_client.config import ChannelConfig, FeaturizerConfig
from inception_svm_client.exceptions import ClientError
from inception_svm_client.inputs import bytes_inputs, path_inputs
from inception_svm_client.svm._classifier import SvmClassifier
from tests.client.featurizer_clients import run_async as run
from tests.client.grpc.test_featurizer import FAST_RETRY, images
from tests.client.official_stub_server import Script, scripted_server
from tests.harness import ServerHandle
from tests.paths import CARS_DIR


async def collect(featurizer: AsyncFeaturizer, inputs: Any) -> list[FeatureResult]:
    return [result async for result in featurizer.featurize(inputs)]


def test_leaving_the_stream_early_cancels_the_batches_in_flight() -> None:
    """The asyncio interrupt: the consumer stops (break, cancellation) and the calls still
    in flight are cancelled, not left running behind its back."""
    # Every call after the first holds until it is cancelled (60 s if never).
    script = Script(delays_s=(0.5, 60.0))

    async def first_then_leave(target: str) -> FeatureResult:
        config = FeaturizerConfig(batch_size=1, max_in_flight=3, retry=FAST_RETRY)
        async with AsyncFeaturizer.connect(ChannelConfig(target=target), config) as featurizer:
            results = featurizer.featurize(bytes_inputs(images(1000)))
            first = await anext(results)
            await results.aclose()
            # The server counts a cancellation when it arrives.
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
    channel = ChannelConfig(target=stand_in.grpc_target)
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

            config = replace(config, target=replace(config.target, model_name=model_name))
        async with svm.connect_async(
            ChannelConfig(target=stand_in.grpc_target), config
        ) as featurizer:
            assert featurizer.config.target.version == svm.metadata.featurizer.model_version
            return await collect(featurizer, path_inputs([str(CARS_DIR / "unlabeled")]))

    results = run(classify())
    assert results and all(r.features is not None for r in results)
    assert svm.predict(np.stack([r.features for r in results if r.features is not None]))
    with pytest.raises(ClientError) as raised:
        run(classify("default"))
    assert raised.value.code == "NOT_FOUND"
    assert "the server serves: 'inception_v1'" in raised.value.details
