"""BatchScheduler semantics on plain numpy (no TF, no gRPC): fast and deterministic."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np
import pytest

from inception_svm_serving._exceptions import InvalidArgument, Unavailable
from inception_svm_serving.config.options import BatchingOptions
from inception_svm_serving.core.batching import BatchScheduler


class RecordingRunner:
    """Doubles its input; remembers batch sizes; rejects negative values like a bad image."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.sizes: list[int] = []
        self.gate = gate

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.gate is not None:
            self.gate.wait(timeout=30)
        x = inputs["x"]
        self.sizes.append(len(x))
        if (x < 0).any():
            raise InvalidArgument("negative value")
        return {"y": x * 2}


def options(**overrides: int | bool | tuple[int, ...]) -> BatchingOptions:
    values: dict = dict(
        max_batch_size=8, batch_timeout_micros=50_000, num_batch_threads=1, max_enqueued_batches=4
    )
    values.update(overrides)
    return BatchingOptions(**values)


def submit_all(scheduler: BatchScheduler, arrays: list[np.ndarray]) -> list[object]:
    def one(array: np.ndarray) -> object:
        try:
            return scheduler.submit({"x": array})["y"]
        except Exception as error:
            return error

    with ThreadPoolExecutor(max_workers=len(arrays)) as pool:
        return list(pool.map(one, arrays))


def test_concurrent_tasks_merge_and_results_go_back_to_their_callers() -> None:
    runner = RecordingRunner()
    scheduler = BatchScheduler(options(allowed_batch_sizes=(4, 8)), runner)
    arrays = [np.full((1, 3), i, np.float32) for i in range(6)]
    results = submit_all(scheduler, arrays)
    scheduler.close()
    for array, result in zip(arrays, results, strict=True):
        np.testing.assert_array_equal(result, array * 2)
    assert max(runner.sizes) > 1
    assert all(size in (4, 8) for size in runner.sizes)  # padded to allowed sizes


def test_task_above_max_batch_size_is_refused_like_tf_serving() -> None:
    runner = RecordingRunner()
    scheduler = BatchScheduler(options(), runner)
    refusal = r"^Task size 9 is larger than maximum input batch size 8$"
    with pytest.raises(InvalidArgument, match=refusal):
        scheduler.submit({"x": np.ones((9, 1), np.float32)})
    scheduler.close()
    assert runner.sizes == []  # refused before any work


def test_large_batch_splitting_runs_execution_sized_batches_in_order() -> None:
    runner = RecordingRunner()
    scheduler = BatchScheduler(
        options(
            max_batch_size=32,
            enable_large_batch_splitting=True,
            max_execution_batch_size=8,
            batch_timeout_micros=0,
            max_enqueued_batches=8,
        ),
        runner,
    )
    x = np.arange(20, dtype=np.float32).reshape(20, 1)
    np.testing.assert_array_equal(scheduler.submit({"x": x})["y"], x * 2)
    with pytest.raises(InvalidArgument, match=r"Task size 33 .* 32"):
        scheduler.submit({"x": np.ones((33, 1), np.float32)})
    scheduler.close()
    assert sorted(runner.sizes) == [4, 8, 8]


def test_split_request_needing_more_batches_than_the_queue_holds_is_unavailable() -> None:
    runner = RecordingRunner()
    scheduler = BatchScheduler(
        options(
            max_batch_size=32,
            enable_large_batch_splitting=True,
            max_execution_batch_size=4,
            max_enqueued_batches=2,
        ),
        runner,
    )
    with pytest.raises(Unavailable):
        scheduler.submit({"x": np.ones((12, 1), np.float32)})
    scheduler.close()
    assert runner.sizes == []  # all pieces or none: nothing of the refused request ran


def test_bad_task_fails_alone_inside_a_merged_batch() -> None:
    scheduler = BatchScheduler(options(), RecordingRunner())
    arrays = [np.full((1, 2), v, np.float32) for v in (1, 2, -1, 3)]
    results = submit_all(scheduler, arrays)
    scheduler.close()
    assert isinstance(results[2], InvalidArgument)
    for i in (0, 1, 3):
        np.testing.assert_array_equal(results[i], arrays[i] * 2)


def test_full_queue_is_unavailable_not_unbounded() -> None:
    gate = threading.Event()
    scheduler = BatchScheduler(
        options(max_batch_size=1, max_enqueued_batches=2, batch_timeout_micros=0),
        RecordingRunner(gate),
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(scheduler.submit, {"x": np.ones((1, 1), np.float32)}) for _ in range(8)
        ]
        refused = next(f for f in as_completed(futures, timeout=30))  # refusals return at once
        assert isinstance(refused.exception(), Unavailable)
        gate.set()
        outcomes = [f.exception() for f in futures]
    scheduler.close()
    assert any(outcome is None for outcome in outcomes)


def test_closed_scheduler_refuses_new_tasks() -> None:
    scheduler = BatchScheduler(options(), RecordingRunner())
    scheduler.close()
    with pytest.raises(Unavailable):
        scheduler.submit({"x": np.ones((1, 1), np.float32)})


def test_abort_fails_queued_tasks_at_once_and_lets_the_running_batch_finish() -> None:
    gate = threading.Event()
    runner = RecordingRunner(gate)
    scheduler = BatchScheduler(
        options(max_batch_size=1, max_enqueued_batches=4, batch_timeout_micros=0), runner
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(scheduler.submit, {"x": np.full((1, 1), i, np.float32)}) for i in range(4)
        ]
        # One batch running (blocked on the gate), three queued; the deadline bounds a
        # scheduler that never queues them.
        deadline = time.monotonic() + 10
        while scheduler.queued_batches < 3:
            assert time.monotonic() < deadline, f"{scheduler.queued_batches} batches queued"
            time.sleep(0.01)
        scheduler.abort("server is shutting down")
        queued = list(itertools.islice(as_completed(futures, timeout=10), 3))  # gate still shut
        assert all(isinstance(f.exception(), Unavailable) for f in queued)
        gate.set()
        outcomes = [f.exception() for f in futures]
    assert sum(outcome is None for outcome in outcomes) == 1
    with pytest.raises(Unavailable):
        scheduler.submit({"x": np.ones((1, 1), np.float32)})
