"""``batcher.batches`` for asyncio: group a stream of inputs by size or age, in order.

The source may be an async iterable (a queue consumer, an upload stream) or a plain one;
a plain iterator other than a list or tuple is advanced on a worker thread, because it may
block (stdin, a network file system) and must not stall the event loop or the batch timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Iterator, Sequence
from typing import TypeVar

from inception_svm_client.grpc._batching import BatchAssembler, Failure, Item

T = TypeVar("T")
_TICK_S = 0.05


async def _values(inputs: Iterable[T] | AsyncIterable[T]) -> AsyncGenerator[T, None]:
    if isinstance(inputs, AsyncIterable):
        async for value in inputs:
            yield value
    elif isinstance(inputs, Sequence):
        for value in inputs:
            yield value
    else:
        iterator = iter(inputs)
        while (step := await asyncio.to_thread(_step, iterator)) is not None:
            yield step.value


def _step(iterator: Iterator[T]) -> Item[T] | None:
    """``next`` that ends with None rather than StopIteration (which cannot cross into a
    coroutine)."""
    for value in iterator:
        return Item(value)
    return None


async def async_batches(
    inputs: Iterable[T] | AsyncIterable[T], batch_size: int, batch_timeout_ms: float
) -> AsyncGenerator[list[T], None]:
    """Batches of ``batch_size`` items, or fewer once the oldest waited ``batch_timeout_ms``.

    Empty lists are yielded as ticks while waiting so the caller can hand out finished
    results meanwhile. An exception raised by ``inputs`` is re-raised here. Closing the
    generator (or cancelling its consumer) stops reading; items read but not yet batched
    are dropped: they were never sent."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Item[T] | Failure | None] = asyncio.Queue(maxsize=4 * batch_size)

    async def produce() -> None:
        try:
            async for value in _values(inputs):
                await items.put(Item(value))
            await items.put(None)
        except Exception as error:  # re-raised in the consumer
            await items.put(Failure(error))

    reader = asyncio.create_task(produce(), name="featurize-reader")
    assembler: BatchAssembler[T] = BatchAssembler(batch_size, batch_timeout_ms / 1000)
    try:
        while True:
            try:
                item = await asyncio.wait_for(items.get(), assembler.wait_s(loop.time(), _TICK_S))
            except TimeoutError:
                if (due := assembler.due(loop.time())) is not None:
                    yield due
                continue
            if item is None:
                if rest := assembler.flush():
                    yield rest
                return
            if isinstance(item, Failure):
                raise item.error
            if (full := assembler.add(item.value, loop.time())) is not None:
                yield full
    finally:
        reader.cancel()
