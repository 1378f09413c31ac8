"""A one-line progress display on stderr for long ``classify`` runs.

The total is unknown while inputs stream in (stdin, a huge directory), so it shows counts
and rate rather than a bar; it redraws at most twice a second and only on a terminal, so
logs and pipes never see carriage returns.
"""

from __future__ import annotations

import time
from typing import TextIO

_REDRAW_S = 0.5


class Progress:
    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._drawn = False

    def update(self, done: int, failed: int) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._drawn_at < _REDRAW_S:
            return
        self._drawn_at = now
        rate = done / max(now - self._started, 1e-9)
        self._stream.write(f"\r{done} inputs done, {failed} failed, {rate:.1f}/s ")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
