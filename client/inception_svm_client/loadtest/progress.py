"""The live progress line on stderr: only on a terminal, so logs and pipes stay clean."""

from __future__ import annotations

from typing import TextIO

from inception_svm_client.loadtest.runner import Progress


class ProgressLine:
    """Rewrites one line in place; the rate shown is over the last interval, not the run."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last: Progress | None = None
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        last = self._last
        rate = 0.0
        if last is not None and progress.elapsed_s > last.elapsed_s:
            rate = (progress.completed - last.completed) / (progress.elapsed_s - last.elapsed_s)
        self._last = progress
        phase = "warm-up" if progress.warming_up else "measuring"
        line = (
            f"[{phase}] {progress.elapsed_s:6.1f} s  {progress.completed} done  "
            f"{progress.errors} errors  {progress.in_flight} in flight  {rate:.1f} req/s"
        )
        self._width = max(self._width, len(line))
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()

    def finish(self) -> None:
        if self._last is not None:
            self._stream.write("\n")
            self._stream.flush()
