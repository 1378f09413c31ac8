"""Server-side dynamic batching with the semantics of TF Serving's BatchingParameters.

Concurrent requests (tasks) are merged along dimension 0 into batches of at most
``max_batch_size`` rows (``max_execution_batch_size`` with splitting); a batch runs when it is
full, or when its oldest task has waited ``batch_timeout_micros``, on one of
``num_batch_threads`` threads. A batch is padded up to the
next ``allowed_batch_sizes`` entry by repeating its first row, and the padding is sliced off
the outputs. At most ``max_enqueued_batches`` batches wait; beyond that a task is refused with
Unavailable at once, so memory never grows without bound. A task larger than
``max_batch_size`` is refused with InvalidArgument, as TF Serving does. With
``enable_large_batch_splitting``, a task is cut into pieces: the first fills what is left of
the open batch, the rest make batches of at most ``max_execution_batch_size`` rows; the caller
gets its rows back in order once every piece has run.

If a merged batch fails with InvalidArgument, each of its tasks is re-run alone: one client's
undecodable image must never fail the other clients whose requests happened to share its batch.

This module knows nothing about gRPC or TensorFlow: it moves numpy arrays to a callable.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from inception_svm_serving._exceptions import InvalidArgument, Unavailable
from inception_svm_serving.config.options import BatchingOptions

Arrays = Mapping[str, np.ndarray]
Runner = Callable[[Arrays], dict[str, np.ndarray]]
_CLOSE_TIMEOUT_S = 60.0


class BatchObserver(Protocol):
    def batch_processed(self, batch_size: int, padded_size: int) -> None: ...

    def task_dequeued(self, queued_seconds: float) -> None: ...


class _NullObserver:
    def batch_processed(self, batch_size: int, padded_size: int) -> None:
        pass

    def task_dequeued(self, queued_seconds: float) -> None:
        pass


@dataclass
class _Task:
    inputs: Arrays
    size: int
    key: tuple[object, ...]
    enqueued_at: float
    done: threading.Event = field(default_factory=threading.Event)
    outputs: dict[str, np.ndarray] | None = None
    error: BaseException | None = None

    def result(self) -> dict[str, np.ndarray]:
        """Once done: the outputs, or the error raised."""
        if self.error is not None:
            raise self.error
        assert self.outputs is not None  # a finished task without an error has outputs
        return self.outputs


@dataclass
class _Batch:
    key: tuple[object, ...]
    created_at: float
    tasks: list[_Task] = field(default_factory=list)
    size: int = 0


def _compatibility_key(inputs: Arrays) -> tuple[object, ...]:
    """Tasks can share a batch only if every input agrees on dtype and non-batch dims."""
    return tuple((k, v.dtype.str, v.shape[1:]) for k, v in sorted(inputs.items()))


def _pad(array: np.ndarray, rows: int) -> np.ndarray:
    if rows == 0:
        return array
    return np.concatenate([array, np.repeat(array[:1], rows, axis=0)], axis=0)


def check_batching_for_load(options: BatchingOptions) -> None:
    """The checks tensorflow_model_server applies to BatchingParameters when it loads a model
    version, in its order and with its messages; InvalidArgument fails that load (retried
    like any load error). Sources, at tensorflow/serving 9d981c5c and TF's
    shared_batch_scheduler.h: ``WrapSessionForBatching`` (servables/tensorflow/
    bundle_factory_util.cc) checks only the last allowed size, against max_batch_size, with
    or without splitting (the execution-size and sortedness rules of
    ``CreateBasicBatchingSession`` are not on the model server's path); then ``AddQueue``
    checks the queue options built by ``GetQueueOptions``."""
    sizes = options.allowed_batch_sizes
    if sizes and sizes[-1] != options.max_batch_size:
        raise InvalidArgument(
            "Last entry in allowed_batch_sizes must match max_batch_size; last entry was "
            f"{sizes[-1]}; expected {options.max_batch_size}"
        )
    if options.max_batch_size == 0:
        raise InvalidArgument("input_batch_size_limit must be positive; was 0")
    if options.batch_timeout_micros < 0:
        raise InvalidArgument(
            f"batch_timeout_micros must be non-negative; was {options.batch_timeout_micros}"
        )
    if not options.enable_large_batch_splitting:
        return  # AddQueue rewrites max_enqueued_batches 0 to 1 without splitting
    if options.max_enqueued_batches == 0:
        raise InvalidArgument("max_enqueued_batches must be positive; was 0")
    if options.max_batch_size < options.execution_batch_limit:
        # StrCat of a bool and two size_t: TF Serving runs the values together.
        raise InvalidArgument(
            "When enable_large_batch_splitting is true, input_batch_size_limit must be "
            "greater than or equal to max_execution_batch_size."
            f"1{options.max_batch_size}{options.execution_batch_limit}"
        )


class BatchScheduler:
    """One queue per (model version, signature), as in TF Serving's BatchingSession."""

    def __init__(
        self,
        options: BatchingOptions,
        run: Runner,
        observer: BatchObserver | None = None,
        name: str = "batch",
    ) -> None:
        self._options = options
        self._run = run
        self._observer: BatchObserver = observer or _NullObserver()
        self._timeout_s = options.batch_timeout_micros / 1e6
        self._queue: deque[_Batch] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(options.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, inputs: Arrays) -> dict[str, np.ndarray]:
        """Block until this request's rows have been computed (in whatever batches)."""
        size = _batch_size(inputs)
        if size == 0:
            raise InvalidArgument("empty batch: dimension 0 has size 0")
        if size > self._options.max_batch_size:
            raise InvalidArgument(
                f"Task size {size} is larger than maximum input batch size "
                f"{self._options.max_batch_size}"
            )
        tasks = self._enqueue(inputs, size)
        for task in tasks:
            task.done.wait()
        results = [task.result() for task in tasks]
        if len(results) == 1:
            return results[0]
        return {k: np.concatenate([r[k] for r in results]) for k in results[0]}

    @property
    def queued_batches(self) -> int:
        """Batches waiting for a batch thread (not those running): what shutdown would drop."""
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        """Run what is queued, then stop the threads; later submits get Unavailable."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=_CLOSE_TIMEOUT_S)

    def abort(self, reason: str) -> None:
        """Process shutdown: the callers' RPCs are being cancelled, so running what is queued
        would only keep handler threads (and so the process) alive for minutes on a full
        queue. Queued tasks fail with Unavailable at once; batches already running finish."""
        with self._cond:
            self._closing = True
            for batch in self._queue:
                for task in batch.tasks:
                    task.error = Unavailable(reason)
                    task.done.set()
            self._queue.clear()
            self._cond.notify_all()

    def _piece_sizes(self, size: int, room_in_open_batch: int) -> list[int]:
        limit = self._options.execution_batch_limit
        if not self._options.enable_large_batch_splitting:
            return [size]
        first = min(size, room_in_open_batch)
        pieces = [first] if first else []
        rest = size - first
        pieces += [min(limit, rest - start) for start in range(0, rest, limit)]
        return pieces

    def _enqueue(self, inputs: Arrays, size: int) -> list[_Task]:
        """Queue the request's pieces atomically: all of them, or Unavailable for the whole."""
        now = time.monotonic()
        key = _compatibility_key(inputs)
        limit = self._options.execution_batch_limit
        with self._cond:
            if self._closing:
                raise Unavailable("servable is being unloaded; retry")
            last = self._queue[-1] if self._queue else None
            room = limit - last.size if last is not None and last.key == key else 0
            pieces = self._piece_sizes(size, room)
            joins_open_batch = pieces[0] <= room
            new_batches = len(pieces) - (1 if joins_open_batch else 0)
            if len(self._queue) + new_batches > max(self._options.max_enqueued_batches, 1):
                raise Unavailable(
                    f"batch queue is full ({max(self._options.max_enqueued_batches, 1)} batches "
                    "waiting); retry later"
                )
            tasks = []
            start = 0
            for index, piece in enumerate(pieces):
                rows = {k: v[start : start + piece] for k, v in inputs.items()}
                task = _Task(rows if len(pieces) > 1 else inputs, piece, key, now)
                start += piece
                if index > 0 or not joins_open_batch or last is None:
                    last = _Batch(key, now)
                    self._queue.append(last)
                last.tasks.append(task)
                last.size += piece
                tasks.append(task)
            self._cond.notify_all()
        return tasks

    def _next_batch(self) -> _Batch | None:
        with self._cond:
            while True:
                if self._queue:
                    head = self._queue[0]
                    wait = head.created_at + self._timeout_s - time.monotonic()
                    ready = (
                        head.size >= self._options.execution_batch_limit
                        or len(self._queue) > 1
                        or self._closing
                        or wait <= 0
                    )
                    if ready:
                        return self._queue.popleft()
                    self._cond.wait(timeout=wait)
                elif self._closing:
                    return None
                else:
                    self._cond.wait()

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            now = time.monotonic()
            for task in batch.tasks:
                self._observer.task_dequeued(now - task.enqueued_at)
            self._process(batch.tasks)
            for task in batch.tasks:
                task.done.set()

    def _padded_size(self, size: int) -> int:
        for allowed in self._options.allowed_batch_sizes:
            if allowed >= size:
                return allowed
        return size

    def _run_padded(self, tasks: list[_Task]) -> None:
        size = sum(t.size for t in tasks)
        padded = self._padded_size(size)
        names = tasks[0].inputs.keys()
        if len(tasks) == 1:
            merged = {k: _pad(np.asarray(tasks[0].inputs[k]), padded - size) for k in names}
        else:
            merged = {
                k: _pad(np.concatenate([t.inputs[k] for t in tasks]), padded - size) for k in names
            }
        outputs = self._run(merged)
        self._observer.batch_processed(size, padded)
        for key, value in outputs.items():
            if value.ndim == 0 or value.shape[0] != padded:
                raise InvalidArgument(
                    f"output {key!r} has no batch dimension; it cannot be batched"
                )
        start = 0
        for task in tasks:
            task.outputs = {k: v[start : start + task.size] for k, v in outputs.items()}
            start += task.size

    def _process(self, tasks: list[_Task]) -> None:
        try:
            self._run_padded(tasks)
        except InvalidArgument as error:
            if len(tasks) == 1:
                tasks[0].error = error
                return
            for task in tasks:
                try:
                    self._run_padded([task])
                except BaseException as single_error:  # reported to that caller only
                    task.error = single_error
        except Exception as error:  # never kill a batch thread; callers get the error
            for task in tasks:
                task.error = error


def _batch_size(inputs: Arrays) -> int:
    sizes = {v.shape[0] if v.ndim else -1 for v in inputs.values()}
    if len(sizes) != 1 or -1 in sizes:
        raise InvalidArgument(
            "with batching enabled all inputs must have the same size in dimension 0"
        )
    return sizes.pop()
