"""Group a stream of inputs into batches by size or age, keeping input order.

The iterable is read on its own thread so a slow source (stdin, a network file system)
cannot stall the batch timer, and so that reading stops as soon as the caller says so
(an interrupt must not wait for the next path to arrive on stdin).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
_POLL_S = 0.05


class _End:
    pass


@dataclass(frozen=True)
class _Failure:
    error: BaseException


@dataclass(frozen=True)
class _Item(Generic[T]):
    value: T


def batches(
    inputs: Iterable[T],
    batch_size: int,
    batch_timeout_ms: float,
    stop: threading.Event | None = None,
) -> Iterator[list[T]]:
    """Batches of ``batch_size`` items, or fewer once the oldest waited ``batch_timeout_ms``.

    Empty lists are yielded as ticks while waiting so the caller can hand out finished
    results meanwhile. When ``stop`` is set, reading ends and items read but not yet
    batched are dropped: they were never sent, so a resumed run picks them up. An exception
    raised by ``inputs`` is re-raised here, in the consuming thread.
    """
    stop = stop or threading.Event()
    finished = threading.Event()
    items: queue.Queue[_Item[T] | _End | _Failure] = queue.Queue(maxsize=4 * batch_size)

    def put(item: _Item[T] | _End | _Failure) -> bool:
        while not (stop.is_set() or finished.is_set()):
            try:
                items.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for value in inputs:
                if not put(_Item(value)):
                    return
            put(_End())
        except BaseException as error:  # re-raised in the consuming thread
            put(_Failure(error))

    threading.Thread(target=produce, name="featurize-reader", daemon=True).start()
    batch: list[T] = []
    batch_deadline = 0.0
    try:
        while not stop.is_set():
            wait = max(0.0, batch_deadline - time.monotonic()) if batch else _POLL_S
            try:
                item = items.get(timeout=min(wait, _POLL_S) if batch else wait)
            except queue.Empty:
                if not batch or time.monotonic() >= batch_deadline:
                    yield batch
                    batch = []
                continue
            if isinstance(item, _End):
                if batch:
                    yield batch
                return
            if isinstance(item, _Failure):
                raise item.error
            batch.append(item.value)
            if len(batch) == 1:
                batch_deadline = time.monotonic() + batch_timeout_ms / 1000
            if len(batch) >= batch_size:
                yield batch
                batch = []
    finally:
        finished.set()
