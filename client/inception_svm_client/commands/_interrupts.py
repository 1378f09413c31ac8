"""SIGINT/SIGTERM as a request to stop cleanly rather than an exception anywhere.

A KeyboardInterrupt can land in any frame (mid-write of a record, inside a gRPC callback),
which is how lines get torn and work lost. Instead the first signal sets an event that the
stream checks between steps; the default handlers come back at once, so a second Ctrl-C
still ends a run that does not stop soon enough.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_number: int | None = None

    @property
    def exit_code(self) -> int | None:
        """What a shell reports for the signal (130 for SIGINT, 143 for SIGTERM)."""
        return None if self.signal_number is None else 128 + self.signal_number


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Only the main thread can install handlers; elsewhere (an embedding application's
    worker thread) signals keep their usual meaning."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {number: signal.getsignal(number) for number in HANDLED}

    def handle(number: int, frame: FrameType | None) -> None:
        request.signal_number = number
        request.event.set()
        for other, handler in previous.items():
            signal.signal(other, handler)

    for number in HANDLED:
        signal.signal(number, handle)
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
