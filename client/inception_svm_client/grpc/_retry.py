"""Which failures are retried, split or final, and the time budget retries share.

Retries are bounded by time rather than attempts because what they ride out is measured in
seconds (a pod restart, a frozen process, a network partition), while the number of
attempts that fit in those seconds depends on backoff, jitter and gRPC's own reconnect
timing. One ``RetryBudget`` is shared by every batch of a stream: a dead server ends the
whole stream after ``budget_s``, not after ``budget_s`` per batch.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from inception_svm_client.config import RetryPolicy
from inception_svm_client.exceptions import (
    BudgetExhaustedError,
    ClientError,
    ErrorCode,
    InterruptedCall,
)

T = TypeVar("T")
RETRYABLE_CODES = frozenset(
    {ErrorCode.UNAVAILABLE, ErrorCode.DEADLINE_EXCEEDED, ErrorCode.RESOURCE_EXHAUSTED}
)
# The server refused the batch's content: splitting finds the image(s) responsible.
SPLITTABLE_CODES = frozenset({ErrorCode.INVALID_ARGUMENT})


def is_oversize(error: ClientError) -> bool:
    return error.code == ErrorCode.RESOURCE_EXHAUSTED and error.oversize


def should_split(error: ClientError) -> bool:
    return error.code in SPLITTABLE_CODES or is_oversize(error)


def should_retry(error: ClientError) -> bool:
    return error.code in RETRYABLE_CODES and not is_oversize(error)


class RetryBudget:
    """The outage clock of one stream; thread-safe (batches resolve on a pool).

    ``exhausted`` is sticky: once the budget has run out the stream stops sending, even if
    a late batch succeeds, so the caller sees one clear end instead of a trickle."""

    def __init__(
        self,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_outage: Callable[[ClientError], None] | None = None,
    ) -> None:
        """``on_outage`` is called once when an outage starts (a restart shows in a bulk
        job's log as one line, not one per retry)."""
        self.policy = policy
        self._on_outage = on_outage
        self._clock = clock
        self._random = rng or random.Random()
        self._lock = threading.Lock()
        self._outage_since: float | None = None
        self._first_failure: ClientError | None = None
        self.exhausted: BudgetExhaustedError | None = None
        self.served = False

    def retryable(self, error: ClientError) -> bool:
        """Transient codes, plus NOT_FOUND once this stream has been served: the model it
        was using is missing because the server restarted and is still loading it (the
        stand-in answers NOT_FOUND then, TF Serving refuses connections). If the version
        really was retired, the records still say so: the first failure is named when the
        budget runs out."""
        return should_retry(error) or (self.served and error.code == ErrorCode.NOT_FOUND)

    def succeeded(self) -> None:
        with self._lock:
            self.served = True
            self._outage_since = None
            self._first_failure = None

    def failed(self, error: ClientError) -> float:
        """Record a retryable failure; returns the seconds left, raises BudgetExhaustedError
        when none are."""
        with self._lock:
            if self.exhausted is not None:
                raise self.exhausted
            now = self._clock()
            if self._outage_since is None:
                self._outage_since, self._first_failure = now, error
                if self._on_outage is not None:
                    self._on_outage(error)
            left = self.policy.budget_s - (now - self._outage_since)
            if left <= 0:
                self.exhausted = BudgetExhaustedError(
                    self.policy.budget_s, self._first_failure or error
                )
                raise self.exhausted
            return left

    def remaining_s(self) -> float:
        """Seconds left in the current outage (the whole budget when there is none)."""
        with self._lock:
            if self._outage_since is None:
                return self.policy.budget_s
            return max(0.0, self.policy.budget_s - (self._clock() - self._outage_since))

    def backoff_s(self, attempt: int, left_s: float) -> float:
        cap = min(self.policy.max_backoff_s, self.policy.initial_backoff_s * 2**attempt)
        return min(left_s, self._random.uniform(0, cap))

    def may_attempt(self, attempt: int) -> bool:
        limit = self.policy.max_attempts
        return limit is None or attempt < limit


# (timeout_s, wait_for_ready) -> result; raises ClientError.
Attempt = Callable[[float, bool], T]
AsyncAttempt = Callable[[float, bool], Awaitable[T]]


class RetrySchedule:
    """The decisions of one call's retry loop, shared by the thread and asyncio loops so
    the two differ only in how they wait (``stop.wait`` or ``asyncio.sleep``).

    After the first transient failure the next attempts wait for the channel to be ready
    (gRPC's wait-for-ready), with a timeout that never passes the end of the budget: the
    call goes out the moment gRPC reconnects instead of after a blind sleep, and a server
    that is gone is reported when the budget ends, not a deadline later."""

    def __init__(self, budget: RetryBudget, deadline_s: float) -> None:
        self._budget = budget
        self._deadline_s = deadline_s
        self._failures = 0
        self.wait_for_ready = False

    def next_timeout(self) -> float:
        """The timeout of the next attempt; raises the budget's error once it ran out."""
        if self._budget.exhausted is not None:
            raise self._budget.exhausted
        if not self.wait_for_ready:
            return self._deadline_s
        return max(0.01, min(self._deadline_s, self._budget.remaining_s()))

    def backoff_after(self, error: ClientError) -> float:
        """Seconds to wait before retrying ``error``; raises it (or the budget's error)
        when it is final."""
        if not self._budget.retryable(error):
            raise error
        left = self._budget.failed(error)
        self._failures += 1
        if not self._budget.may_attempt(self._failures):
            raise error
        self.wait_for_ready = True
        return self._budget.backoff_s(self._failures - 1, left)


def call_with_retry(
    attempt: Attempt[T], budget: RetryBudget, deadline_s: float, stop: threading.Event
) -> T:
    """Retry ``attempt`` on transient failures until it succeeds or the budget runs out
    (see ``RetrySchedule``); ``stop`` ends the wait between attempts."""
    schedule = RetrySchedule(budget, deadline_s)
    while True:
        timeout = schedule.next_timeout()
        if stop.is_set():
            raise InterruptedCall()
        try:
            result = attempt(timeout, schedule.wait_for_ready)
        except ClientError as error:
            if stop.wait(schedule.backoff_after(error)):
                raise InterruptedCall() from None
            continue
        budget.succeeded()
        return result


async def call_with_retry_async(
    attempt: AsyncAttempt[T], budget: RetryBudget, deadline_s: float
) -> T:
    """``call_with_retry`` for coroutines: cancelling the awaiting task stops it."""
    schedule = RetrySchedule(budget, deadline_s)
    while True:
        timeout = schedule.next_timeout()
        try:
            result = await attempt(timeout, schedule.wait_for_ready)
        except ClientError as error:
            await asyncio.sleep(schedule.backoff_after(error))
            continue
        budget.succeeded()
        return result
