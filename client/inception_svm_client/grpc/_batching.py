"""The batching rule shared by the thread and asyncio batchers, with no clock or I/O.

A batch is sent when it holds ``batch_size`` items or when its oldest item has waited
``timeout_s``, in input order. The two batchers differ only in how they wait for the next
item (a thread queue or an asyncio queue), so the rule lives here once, driven by the times
they pass in; that also lets it be tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Item(Generic[T]):
    """One input travelling from the reader to the batcher (boxed, so any value, None
    included, can be told from the end and failure markers)."""

    value: T


@dataclass(frozen=True)
class Failure:
    """The reader's exception, carried to the consuming side to be re-raised there."""

    error: BaseException


class BatchAssembler(Generic[T]):
    """Collects items into batches by size or age; ``now`` is any monotonic clock in seconds."""

    def __init__(self, batch_size: int, timeout_s: float) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if timeout_s < 0:
            raise ValueError(f"timeout_s must not be negative, got {timeout_s}")
        self._batch_size = batch_size
        self._timeout_s = timeout_s
        self._batch: list[T] = []
        self._deadline = 0.0

    @property
    def pending(self) -> int:
        """Items held for the batch being filled."""
        return len(self._batch)

    def add(self, item: T, now: float) -> list[T] | None:
        """Hold ``item``; the batch it completes, else None. The first item of a batch
        starts its clock."""
        if not self._batch:
            self._deadline = now + self._timeout_s
        self._batch.append(item)
        return self._take() if len(self._batch) >= self._batch_size else None

    def due(self, now: float) -> list[T] | None:
        """What to hand on after waiting without a new item: the batch once its oldest item
        has waited ``timeout_s``; an empty list when nothing is held (a tick, so the caller
        can hand out finished results meanwhile); None while the batch may still fill."""
        if not self._batch or now >= self._deadline:
            return self._take()
        return None

    def wait_s(self, now: float, tick_s: float) -> float:
        """How long to wait for the next item: until the batch is due, at most ``tick_s``
        (so a stop request is seen within a tick)."""
        if not self._batch:
            return tick_s
        return min(max(0.0, self._deadline - now), tick_s)

    def flush(self) -> list[T]:
        """The partial batch at the end of the input (empty when nothing is held)."""
        return self._take()

    def _take(self) -> list[T]:
        batch, self._batch = self._batch, []
        return batch
