"""The batching rule both batchers drive: size, age, order, ticks and the final flush,
checked on a clock the test moves by hand (no sleeps)."""

from __future__ import annotations

import pytest

from inception_svm_client.grpc._batching import BatchAssembler

TICK_S = 0.05


def test_a_full_batch_is_handed_on_at_the_item_that_fills_it() -> None:
    assembler: BatchAssembler[int] = BatchAssembler(batch_size=3, timeout_s=10.0)
    assert assembler.add(1, now=0.0) is None
    assert assembler.add(2, now=0.0) is None
    assert assembler.add(3, now=0.0) == [1, 2, 3]
    assert assembler.pending == 0
    assert assembler.add(4, now=0.0) is None
    assert assembler.pending == 1


def test_a_batch_is_due_once_its_oldest_item_waited_the_timeout() -> None:
    assembler: BatchAssembler[str] = BatchAssembler(batch_size=10, timeout_s=0.5)
    assembler.add("a", now=100.0)
    assembler.add("b", now=100.4)  # a later item does not restart the clock
    assert assembler.due(now=100.49) is None
    assert assembler.due(now=100.5) == ["a", "b"]
    assert assembler.pending == 0


def test_the_next_batch_starts_its_own_clock() -> None:
    assembler: BatchAssembler[int] = BatchAssembler(batch_size=2, timeout_s=1.0)
    assembler.add(1, now=0.0)
    assert assembler.add(2, now=0.9) == [1, 2]
    assembler.add(3, now=5.0)
    assert assembler.due(now=5.9) is None
    assert assembler.due(now=6.0) == [3]


def test_nothing_held_gives_an_empty_tick() -> None:
    assembler: BatchAssembler[int] = BatchAssembler(batch_size=2, timeout_s=1.0)
    assert assembler.due(now=0.0) == []


def test_batches_keep_input_order_across_size_and_age() -> None:
    assembler: BatchAssembler[int] = BatchAssembler(batch_size=3, timeout_s=1.0)
    out: list[list[int]] = []
    for value, now in enumerate([0.0, 0.1, 0.2, 0.3, 0.4, 5.0, 5.1]):
        if (full := assembler.add(value, now)) is not None:
            out.append(full)
        if value == 4:
            out.append(assembler.due(now=2.0) or [])
    out.append(assembler.flush())
    assert out == [[0, 1, 2], [3, 4], [5, 6]]


def test_the_wait_ends_when_the_batch_is_due_and_never_exceeds_a_tick() -> None:
    assembler: BatchAssembler[int] = BatchAssembler(batch_size=4, timeout_s=0.02)
    assert assembler.wait_s(now=0.0, tick_s=TICK_S) == TICK_S
    assembler.add(1, now=10.0)
    assert assembler.wait_s(now=10.005, tick_s=TICK_S) == pytest.approx(0.015)
    assert assembler.wait_s(now=11.0, tick_s=TICK_S) == 0.0
    slow: BatchAssembler[int] = BatchAssembler(batch_size=4, timeout_s=60.0)
    slow.add(1, now=0.0)
    assert slow.wait_s(now=0.0, tick_s=TICK_S) == TICK_S


def test_flush_hands_on_the_partial_batch_once() -> None:
    assembler: BatchAssembler[int] = BatchAssembler(batch_size=4, timeout_s=60.0)
    assembler.add(1, now=0.0)
    assembler.add(2, now=0.0)
    assert assembler.flush() == [1, 2]
    assert assembler.flush() == []


@pytest.mark.parametrize(("batch_size", "timeout_s"), [(0, 1.0), (1, -0.1)])
def test_unusable_settings_are_refused(batch_size: int, timeout_s: float) -> None:
    with pytest.raises(ValueError, match=r"batch_size|timeout_s"):
        BatchAssembler(batch_size=batch_size, timeout_s=timeout_s)
