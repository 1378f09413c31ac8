"""The retry budget is one clock per stream, reset by success, sticky once exhausted."""

from __future__ import annotations

import random
import threading

import pytest

from inception_svm_client.config import RetryPolicy
from inception_svm_client.exceptions import ClientError
from inception_svm_client.grpc._retry import BudgetExhaustedError, RetryBudget, call_with_retry

REFUSED = ClientError("UNAVAILABLE", "connection refused")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_counts_from_the_first_failure_and_resets_on_success() -> None:
    clock = FakeClock()
    outages: list[ClientError] = []
    budget = RetryBudget(RetryPolicy(budget_s=10), clock, on_outage=outages.append)
    assert budget.failed(REFUSED) == 10
    clock.now = 9
    assert budget.failed(ClientError("DEADLINE_EXCEEDED", "late")) == pytest.approx(1)
    budget.succeeded()
    clock.now = 15
    assert budget.failed(REFUSED) == 10  # a new outage, a new budget
    assert outages == [REFUSED, REFUSED]  # reported once per outage, not per retry
    clock.now = 25
    with pytest.raises(BudgetExhaustedError) as raised:
        budget.failed(ClientError("DEADLINE_EXCEEDED", "late"))
    assert raised.value.code == "RETRY_BUDGET_EXHAUSTED"
    assert "first failure UNAVAILABLE: connection refused" in raised.value.details
    budget.succeeded()
    with pytest.raises(BudgetExhaustedError):  # sticky: the stream has ended
        budget.failed(REFUSED)


def test_not_found_is_retried_only_once_the_stream_was_served() -> None:
    missing = ClientError("NOT_FOUND", "Servable not found for request: Specific(m, 1)")
    budget = RetryBudget(RetryPolicy())
    assert not budget.retryable(missing)  # a wrong name or version at start: no retry
    budget.succeeded()
    assert budget.retryable(missing)  # mid-stream: a restarted server still loading
    assert not budget.retryable(ClientError("INVALID_ARGUMENT", "bad image"))


def test_call_with_retry_waits_for_ready_after_the_first_failure() -> None:
    calls: list[tuple[float, bool]] = []

    def attempt(timeout: float, wait_for_ready: bool) -> str:
        calls.append((timeout, wait_for_ready))
        if len(calls) < 3:
            raise REFUSED
        return "ok"

    policy = RetryPolicy(budget_s=5, initial_backoff_s=0.001, max_backoff_s=0.002)
    budget = RetryBudget(policy, rng=random.Random(0))
    assert call_with_retry(attempt, budget, 30.0, threading.Event()) == "ok"
    assert [wait for _, wait in calls] == [False, True, True]
    assert calls[0][0] == 30.0 and all(timeout <= 5 for timeout, _ in calls[1:])
