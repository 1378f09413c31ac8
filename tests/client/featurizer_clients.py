"""The thread-based ``Featurizer`` and the ``AsyncFeaturizer`` behind one blocking interface.

The two clients share encoding, retry schedule, bisection and checks and differ only in how
they wait, so each behaviour is written once and run against both: a test decorated with
``@both_clients`` takes a ``client`` argument and runs once per client, its id naming which
(``[sync]``, ``[async]``). The asyncio side runs each call in an event loop of its own with
``asyncio.run`` (pytest has no asyncio plugin here), so a test reads the same whichever
client it drives.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from inception_svm_client.config import ChannelConfig, FeaturizerConfig
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._client_base import BatchResponse
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.grpc._resolver import FeatureResult
from inception_svm_client.grpc.aio._featurizer import AsyncFeaturizer
from inception_svm_client.inputs import ImageInput

T = TypeVar("T")
# A bound on any one asyncio.run here: a hang fails the test instead of stalling the suite.
ASYNC_CALL_LIMIT_S = 300.0
GARBAGE = b"garbage, not protobuf"

OnResult = Callable[[int], None]


@dataclass(frozen=True)
class Paused:
    """A stream whose producer stalls once, before item ``pause_before``, for ``pause_s``: a
    camera or an upload as the client sees it. Each client gets it in its own form (a
    blocking generator, an async generator that awaits)."""

    inputs: Sequence[ImageInput]
    pause_before: int
    pause_s: float


Inputs = Iterable[ImageInput] | Paused


class FeaturizerClient(ABC):
    """One client kind, driven by blocking calls. ``on_result(n)`` runs after the n-th
    result is received, on the consuming side (for the asyncio client on a worker thread,
    so a test may block in it, e.g. to kill a server, without stalling the event loop)."""

    name: str

    @abstractmethod
    def featurize(
        self,
        channel: ChannelConfig,
        inputs: Inputs,
        config: FeaturizerConfig | None = None,
        *,
        expected_feature_dim: int | None = None,
        on_result: OnResult | None = None,
    ) -> list[FeatureResult]:
        """Every result of one ``featurize`` stream on a client connected for it."""

    @abstractmethod
    def fetch_signature(
        self, channel: ChannelConfig, config: FeaturizerConfig | None = None
    ) -> wire.ServedSignature: ...

    @abstractmethod
    def predict_with_retry(
        self, channel: ChannelConfig, config: FeaturizerConfig, images: Sequence[bytes]
    ) -> BatchResponse: ...

    @abstractmethod
    def predict_over_garbage(self, images: Sequence[bytes]) -> BatchResponse:
        """``predict`` on a channel whose every call answers bytes that are not protobuf."""

    @abstractmethod
    def fetch_signature_over_garbage(self) -> wire.ServedSignature:
        """``fetch_signature`` on that same kind of channel."""

    def __repr__(self) -> str:
        return self.name


class _GarbageCall:
    """A unary-unary callable of either channel kind that answers ``GARBAGE``."""

    def __call__(self, request: bytes, **kwargs: object) -> bytes:
        return GARBAGE

    def future(self, request: bytes, **kwargs: object) -> Future[bytes]:
        answered: Future[bytes] = Future()
        answered.set_result(GARBAGE)
        return answered


class _AsyncGarbageCall:
    async def __call__(self, request: bytes, **kwargs: object) -> bytes:
        return GARBAGE


class GarbageChannel:
    """A thread-based channel whose every call answers bytes that do not parse."""

    def unary_unary(self, method: str) -> _GarbageCall:
        return _GarbageCall()


class AsyncGarbageChannel:
    """The asyncio counterpart of ``GarbageChannel``."""

    def unary_unary(self, method: str) -> _AsyncGarbageCall:
        return _AsyncGarbageCall()


def _paused_stream(paused: Paused) -> Iterator[ImageInput]:
    for index, item in enumerate(paused.inputs):
        if index == paused.pause_before:
            time.sleep(paused.pause_s)
        yield item


async def _paused_async_stream(paused: Paused) -> AsyncIterator[ImageInput]:
    for index, item in enumerate(paused.inputs):
        if index == paused.pause_before:
            await asyncio.sleep(paused.pause_s)
        yield item


class SyncClient(FeaturizerClient):
    name = "sync"

    def featurize(
        self,
        channel: ChannelConfig,
        inputs: Inputs,
        config: FeaturizerConfig | None = None,
        *,
        expected_feature_dim: int | None = None,
        on_result: OnResult | None = None,
    ) -> list[FeatureResult]:
        stream = _paused_stream(inputs) if isinstance(inputs, Paused) else inputs
        results: list[FeatureResult] = []
        with Featurizer.connect(
            channel, config, expected_feature_dim=expected_feature_dim
        ) as featurizer:
            for result in featurizer.featurize(stream):
                results.append(result)
                if on_result is not None:
                    on_result(len(results))
        return results

    def fetch_signature(
        self, channel: ChannelConfig, config: FeaturizerConfig | None = None
    ) -> wire.ServedSignature:
        with Featurizer.connect(channel, config) as featurizer:
            return featurizer.fetch_signature()

    def predict_with_retry(
        self, channel: ChannelConfig, config: FeaturizerConfig, images: Sequence[bytes]
    ) -> BatchResponse:
        with Featurizer.connect(channel, config) as featurizer:
            return featurizer.predict_with_retry(images)

    def predict_over_garbage(self, images: Sequence[bytes]) -> BatchResponse:
        return Featurizer(GarbageChannel()).predict(images)

    def fetch_signature_over_garbage(self) -> wire.ServedSignature:
        return Featurizer(GarbageChannel()).fetch_signature()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine in a fresh event loop, bounded by ``ASYNC_CALL_LIMIT_S``."""
    return asyncio.run(asyncio.wait_for(coroutine, ASYNC_CALL_LIMIT_S))


class AsyncClient(FeaturizerClient):
    name = "async"

    def featurize(
        self,
        channel: ChannelConfig,
        inputs: Inputs,
        config: FeaturizerConfig | None = None,
        *,
        expected_feature_dim: int | None = None,
        on_result: OnResult | None = None,
    ) -> list[FeatureResult]:
        async def stream() -> list[FeatureResult]:
            source: Iterable[ImageInput] | AsyncIterable[ImageInput] = (
                _paused_async_stream(inputs) if isinstance(inputs, Paused) else inputs
            )
            results: list[FeatureResult] = []
            async with AsyncFeaturizer.connect(
                channel, config, expected_feature_dim=expected_feature_dim
            ) as featurizer:
                async for result in featurizer.featurize(source):
                    results.append(result)
                    if on_result is not None:
                        await asyncio.to_thread(on_result, len(results))
            return results

        return run_async(stream())

    def fetch_signature(
        self, channel: ChannelConfig, config: FeaturizerConfig | None = None
    ) -> wire.ServedSignature:
        async def fetch() -> wire.ServedSignature:
            async with AsyncFeaturizer.connect(channel, config) as featurizer:
                return await featurizer.fetch_signature()

        return run_async(fetch())

    def predict_with_retry(
        self, channel: ChannelConfig, config: FeaturizerConfig, images: Sequence[bytes]
    ) -> BatchResponse:
        async def predict() -> BatchResponse:
            async with AsyncFeaturizer.connect(channel, config) as featurizer:
                return await featurizer.predict_with_retry(images)

        return run_async(predict())

    def predict_over_garbage(self, images: Sequence[bytes]) -> BatchResponse:
        return run_async(AsyncFeaturizer(AsyncGarbageChannel()).predict(images))

    def fetch_signature_over_garbage(self) -> wire.ServedSignature:
        return run_async(AsyncFeaturizer(AsyncGarbageChannel()).fetch_signature())


CLIENTS: tuple[FeaturizerClient, ...] = (SyncClient(), AsyncClient())
both_clients = pytest.mark.parametrize("client", CLIENTS, ids=[c.name for c in CLIENTS])
