"""Image bytes → Inception logits on asyncio (``grpc.aio``), for services built on asyncio.

The same guarantees as ``featurizer.Featurizer``, from the same pieces: requests encoded by
``wire``, retries scheduled by ``retry.RetrySchedule`` within one time budget per stream
(wait-for-ready after the first transient failure), INVALID_ARGUMENT batches bisected by
``resolver``, and the signature, pinned version and every response checked by
``model_checks``. Only the waiting differs: coroutines instead of a thread pool, and
cancelling the consuming task (or closing the ``featurize`` iterator) is the interrupt:
calls in flight are cancelled and inputs not yet answered get no result, so a resumed run
picks them up.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import grpc

from inception_svm_client.exceptions import ClientError, ErrorCode, from_rpc_error
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._client_base import (
    BatchResponse,
    ModelClientBase,
    hint_probes,
    not_found_hint,
    served_signature,
    timed_response,
)
from inception_svm_client.grpc._pixels import request_parts
from inception_svm_client.grpc._resolver import (
    AsyncBatchResolver,
    FeatureResult,
    Features,
    not_sent,
)
from inception_svm_client.grpc._retry import RetryBudget, call_with_retry_async
from inception_svm_client.grpc.aio._batcher import async_batches
from inception_svm_client.grpc.channel import create_aio_channel
from inception_svm_client.inputs import ImageInput

if TYPE_CHECKING:
    pass

__all__ = ["AsyncFeaturizer"]


class AsyncFeaturizer(ModelClientBase):
    """A client of one served model on one event loop; reusable across many ``featurize``
    calls, which may run concurrently.

    ``svm``: the metadata of the SVM the features are for: the featurizer then refuses a
    model or signature the SVM was not trained on, pins the SVM's model version and checks
    every response."""

    _open_channel = staticmethod(create_aio_channel)
    _lock_type = asyncio.Lock

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- signature ---------------------------------------------------------------------

    async def fetch_signature(self) -> wire.ServedSignature:
        """GetModelMetadata (retried within the budget), checked like the sync client's
        (``model_checks.served_signature``) and cached."""
        async with self._lock:
            if self._signature is None:
                self._signature = await self._fetch_signature()
            return self._signature

    async def _fetch_signature(self) -> wire.ServedSignature:
        request = wire.encode_metadata_request(self.config.target)
        try:
            data = await call_with_retry_async(
                lambda timeout, wait: self._call(
                    self._metadata, request, "metadata", timeout, wait
                ),
                self._budget(),
                self.config.deadline_s,
            )
        except ClientError as error:
            if error.code == ErrorCode.NOT_FOUND:
                hint = await self._not_found_hint()
                raise ClientError(error.code, error.details + hint) from None
            raise
        return served_signature(data, self.config, self._expected_feature_dim, self.svm)

    async def _not_found_hint(self) -> str:
        served = []
        for name, probe in hint_probes(self.config.target):
            try:
                await self._metadata(probe, timeout=min(5.0, self.config.deadline_s))
            except grpc.RpcError:
                continue
            served.append(name)
        return not_found_hint(self.config.target, served, self.svm is not None)

    # -- one call ----------------------------------------------------------------------

    async def _call(
        self,
        method: Any,
        request: bytes,
        what: str,
        timeout: float | None = None,
        wait_for_ready: bool = False,
    ) -> bytes:
        try:
            response: bytes = await method(
                request,
                timeout=self.config.deadline_s if timeout is None else timeout,
                wait_for_ready=wait_for_ready,
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, f"{what} on {self.config.target.model_name!r}") from None
        return response

    async def predict(
        self,
        images: Sequence[bytes],
        *,
        timeout: float | None = None,
        wait_for_ready: bool = False,
    ) -> BatchResponse:
        """One Predict call (no retry) with client-side timing; raises ClientError."""
        started = time.perf_counter()
        if self.config.preprocess == "server":
            request = wire.encode_predict_request(self.config.target, images)
            encoded = time.perf_counter()
            data = await self._call(self._predict, request, "Predict", timeout, wait_for_ready)
            answered = time.perf_counter()
            return timed_response(
                self.decode_output, data, len(images), started, encoded, answered, time.perf_counter
            )
        # --preprocess client: decoding is CPU work, kept off the event loop.
        parts = await asyncio.to_thread(
            request_parts, self.config.target, images, self.config.preprocess
        )
        encoded = time.perf_counter()
        answers = [
            await self._call(self._predict, part.request, "Predict", timeout, wait_for_ready)
            for part in parts
        ]
        answered = time.perf_counter()
        return timed_response(
            self.decode_output,
            answers,
            len(images),
            started,
            encoded,
            answered,
            time.perf_counter,
            parts,
        )

    async def predict_with_retry(self, images: Sequence[bytes]) -> BatchResponse:
        """``predict`` retried within a budget of its own (one batch, not a stream)."""
        return await call_with_retry_async(
            lambda timeout, wait: self.predict(images, timeout=timeout, wait_for_ready=wait),
            RetryBudget(self.config.retry),
            self.config.deadline_s,
        )

    # -- streaming ---------------------------------------------------------------------

    async def featurize(
        self, inputs: Iterable[ImageInput] | AsyncIterable[ImageInput]
    ) -> AsyncGenerator[FeatureResult, None]:
        """Exactly one result per input read, in input order; never raises for what the
        server or network does (only for a bad configuration, before the first result).

        When the retry budget runs out, the inputs in flight and every input not yet sent
        get a RETRY_BUDGET_EXHAUSTED result (lazy inputs are not read). Up to
        ``max_in_flight`` batches are resolved at once."""
        await self.fetch_signature()
        budget = self._budget()

        async def send(images: Sequence[bytes], timeout: float, wait_for_ready: bool) -> Features:
            response = await self.predict(images, timeout=timeout, wait_for_ready=wait_for_ready)
            return self.checked(response)

        resolver = AsyncBatchResolver(send, budget, self.config.deadline_s)
        pending: deque[asyncio.Future[list[FeatureResult]]] = deque()
        max_in_flight = self.config.max_in_flight
        stream = async_batches(inputs, self.config.batch_size, self.config.batch_timeout_ms)
        try:
            async with aclosing(stream) as grouped:
                async for batch in grouped:
                    if batch and budget.exhausted is not None:
                        pending.append(_resolved(not_sent(batch, budget.exhausted)))
                    elif batch:
                        pending.append(asyncio.ensure_future(resolver.resolve(batch)))
                    while pending and (len(pending) >= max_in_flight or pending[0].done()):
                        for result in await pending.popleft():
                            yield result
            while pending:
                for result in await pending.popleft():
                    yield result
        finally:  # the caller stopped iterating or was cancelled: end the work in flight
            for future in pending:
                future.cancel()


def _resolved(results: list[FeatureResult]) -> asyncio.Future[list[FeatureResult]]:
    future: asyncio.Future[list[FeatureResult]] = asyncio.get_running_loop().create_future()
    future.set_result(results)
    return future
