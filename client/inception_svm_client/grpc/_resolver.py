"""Turn one batch of inputs into exactly one outcome per input, whatever the server does.

This is where the "nothing lost" guarantee lives: a batch goes in, a list of the same
length comes out, in the same order. Transient failures are retried within the stream's
time budget (after the first UNAVAILABLE the retry waits for the channel to be ready, so
gRPC's reconnect, not a blind sleep, decides when the next attempt goes out); a batch the
server rejects as INVALID_ARGUMENT is bisected so only the bad images get an error; every
other failure becomes an error outcome for the images it affected. Nothing here raises.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from inception_svm_client.exceptions import ClientError, ErrorCode
from inception_svm_client.grpc._retry import (
    RetryBudget,
    call_with_retry,
    call_with_retry_async,
    should_split,
)
from inception_svm_client.inputs import ImageInput


@dataclass(frozen=True)
class FeatureResult:
    """Features of one input, or the reason it has none (``code``: a gRPC status name or a
    client reason such as UNREADABLE, RETRY_BUDGET_EXHAUSTED, INTERRUPTED)."""

    key: str
    features: np.ndarray | None
    error: str | None = None
    code: str | None = None
    # The version that computed the features (from the response's model_spec).
    model_version: int | None = None
    # Where the image became the network's input: "client" (pixels sent, --preprocess
    # client) or "server" (bytes sent); None when it has no features.
    preprocessed: str | None = None


@dataclass(frozen=True)
class Features:
    """What a successful call returns for a batch."""

    rows: np.ndarray
    model_version: int | None
    preprocessed: tuple[str, ...] = ()  # per row; empty: every row "server"


# (images, timeout_s, wait_for_ready) -> one feature row per image; raises ClientError.
Send = Callable[[Sequence[bytes], float, bool], Features]
AsyncSend = Callable[[Sequence[bytes], float, bool], Awaitable[Features]]


def not_sent(batch: Sequence[ImageInput], error: ClientError) -> list[FeatureResult]:
    """Outcomes for a batch that will not be sent (the budget ran out before its turn)."""
    return [
        FeatureResult(item.key, None, item.error or "no data", ErrorCode.UNREADABLE)
        if item.data is None and item.loader is None
        else FeatureResult(item.key, None, f"not sent: {error.details}", error.code)
        for item in batch
    ]


Outcome = tuple[np.ndarray, int | None, str] | ClientError


def loaded(batch: Sequence[ImageInput]) -> list[ImageInput]:
    """Read lazy inputs now that the batch is about to be sent."""
    return [item.load() for item in batch]


def readable_images(batch: Sequence[ImageInput]) -> list[bytes]:
    return [item.data for item in batch if item.data is not None]


def results_for(batch: Sequence[ImageInput], outcomes: Sequence[Outcome]) -> list[FeatureResult]:
    """One result per input of a loaded batch: unreadable ones get UNREADABLE, the others
    take the outcomes of the readable images in order."""
    remaining = iter(outcomes)
    results = []
    for item in batch:
        if item.data is None:
            results.append(
                FeatureResult(item.key, None, item.error or "no data", ErrorCode.UNREADABLE)
            )
            continue
        outcome = next(remaining)
        if isinstance(outcome, ClientError):
            results.append(FeatureResult(item.key, None, outcome.details, outcome.code))
        else:
            row, version, preprocessed = outcome
            results.append(
                FeatureResult(item.key, row, model_version=version, preprocessed=preprocessed)
            )
    return results


def rows_of(features: Features) -> list[Outcome]:
    where = features.preprocessed or ("server",) * len(features.rows)
    return [
        (row, features.model_version, place)
        for row, place in zip(features.rows, where, strict=True)
    ]


def halves(error: ClientError, images: Sequence[bytes]) -> tuple[Sequence[bytes], ...] | None:
    """The two halves to resend when the server refused the batch's content (so only the
    bad images end with an error), or None when ``error`` is every image's outcome."""
    if not should_split(error) or len(images) == 1:
        return None
    middle = len(images) // 2
    return images[:middle], images[middle:]


class BatchResolver:
    """Resolves batches for one stream; thread-safe (shares only the budget and stop)."""

    def __init__(
        self, send: Send, budget: RetryBudget, deadline_s: float, stop: threading.Event
    ) -> None:
        self._send = send
        self._budget = budget
        self._deadline_s = deadline_s
        self._stop = stop

    def resolve(self, batch: Sequence[ImageInput]) -> list[FeatureResult]:
        batch = loaded(batch)
        return results_for(batch, self._outcomes(readable_images(batch)))

    def _outcomes(self, images: Sequence[bytes]) -> list[Outcome]:
        if not images:
            return []
        try:
            features = self._send_with_retry(images)
        except ClientError as error:
            parts = halves(error, images)
            if parts is None:
                return [error] * len(images)
            return [outcome for part in parts for outcome in self._outcomes(part)]
        return rows_of(features)

    def _send_with_retry(self, images: Sequence[bytes]) -> Features:
        return call_with_retry(
            lambda timeout, wait: self._send(images, timeout, wait),
            self._budget,
            self._deadline_s,
            self._stop,
        )


class AsyncBatchResolver:
    """``BatchResolver`` on asyncio: the same outcomes, retries and bisection; cancelling
    ``resolve`` cancels the call in flight."""

    def __init__(self, send: AsyncSend, budget: RetryBudget, deadline_s: float) -> None:
        self._send = send
        self._budget = budget
        self._deadline_s = deadline_s

    async def resolve(self, batch: Sequence[ImageInput]) -> list[FeatureResult]:
        if any(item.loader is not None for item in batch):
            batch = await asyncio.to_thread(loaded, batch)  # file reads stay off the loop
        return results_for(batch, await self._outcomes(readable_images(batch)))

    async def _outcomes(self, images: Sequence[bytes]) -> list[Outcome]:
        if not images:
            return []
        try:
            features = await call_with_retry_async(
                lambda timeout, wait: self._send(images, timeout, wait),
                self._budget,
                self._deadline_s,
            )
        except ClientError as error:
            parts = halves(error, images)
            if parts is None:
                return [error] * len(images)
            return [outcome for part in parts for outcome in await self._outcomes(part)]
        return rows_of(features)
