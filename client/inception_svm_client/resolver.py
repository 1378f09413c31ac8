"""Turn one batch of inputs into exactly one outcome per input, whatever the server does.

This is where the "nothing lost" guarantee lives: a batch goes in, a list of the same
length comes out, in the same order. Transient failures are retried within the stream's
time budget (after the first UNAVAILABLE the retry waits for the channel to be ready, so
gRPC's reconnect, not a blind sleep, decides when the next attempt goes out); a batch the
server rejects as INVALID_ARGUMENT is bisected so only the bad images get an error; every
other failure becomes an error outcome for the images it affected. Nothing here raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from inception_svm_client.errors import UNREADABLE, ClientError
from inception_svm_client.inputs import ImageInput
from inception_svm_client.retry import RetryBudget, call_with_retry, should_split


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


@dataclass(frozen=True)
class Features:
    """What a successful call returns for a batch."""

    rows: np.ndarray
    model_version: int | None


# (images, timeout_s, wait_for_ready) -> one feature row per image; raises ClientError.
Send = Callable[[Sequence[bytes], float, bool], Features]


def not_sent(batch: Sequence[ImageInput], error: ClientError) -> list[FeatureResult]:
    """Outcomes for a batch that will not be sent (the budget ran out before its turn)."""
    return [
        FeatureResult(item.key, None, item.error or "no data", UNREADABLE)
        if item.data is None and item.loader is None
        else FeatureResult(item.key, None, f"not sent: {error.details}", error.code)
        for item in batch
    ]


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
        batch = [item.load() for item in batch]
        readable = [item.data for item in batch if item.data is not None]
        outcomes = iter(self._outcomes(readable))
        results = []
        for item in batch:
            if item.data is None:
                results.append(FeatureResult(item.key, None, item.error or "no data", UNREADABLE))
                continue
            outcome = next(outcomes)
            if isinstance(outcome, ClientError):
                results.append(FeatureResult(item.key, None, outcome.details, outcome.code))
            else:
                row, version = outcome
                results.append(FeatureResult(item.key, row, model_version=version))
        return results

    def _outcomes(
        self, images: Sequence[bytes]
    ) -> list[tuple[np.ndarray, int | None] | ClientError]:
        if not images:
            return []
        try:
            features = self._send_with_retry(images)
        except ClientError as error:
            if not should_split(error) or len(images) == 1:
                return [error] * len(images)
            middle = len(images) // 2
            return self._outcomes(images[:middle]) + self._outcomes(images[middle:])
        return [(row, features.model_version) for row in features.rows]

    def _send_with_retry(self, images: Sequence[bytes]) -> Features:
        return call_with_retry(
            lambda timeout, wait: self._send(images, timeout, wait),
            self._budget,
            self._deadline_s,
            self._stop,
        )
