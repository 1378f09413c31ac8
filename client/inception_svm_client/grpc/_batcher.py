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
from typing import TypeVar

from inception_svm_client.grpc._batching import BatchAssembler, Failure, Item

T = TypeVar("T")
_POLL_S = 0.05


class _End:
    pass


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
    items: queue.Queue[Item[T] | _End | Failure] = queue.Queue(maxsize=4 * batch_size)

    def put(item: Item[T] | _End | Failure) -> bool:
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
                if not put(Item(value)):
                    return
            put(_End())
        except BaseException as error:  # re-raised in the consuming thread
            put(Failure(error))

    threading.Thread(target=produce, name="featurize-reader", daemon=True).start()
    assembler: BatchAssembler[T] = BatchAssembler(batch_size, batch_timeout_ms / 1000)
    try:
        while not stop.is_set():
            try:
                item = items.get(timeout=assembler.wait_s(time.monotonic(), _POLL_S))
            except queue.Empty:
                if (due := assembler.due(time.monotonic())) is not None:
                    yield due
                continue
            if isinstance(item, _End):
                if rest := assembler.flush():
                    yield rest
                return
            if isinstance(item, Failure):
                raise item.error
            if (full := assembler.add(item.value, time.monotonic())) is not None:
                yield full
    finally:
        finished.set()
