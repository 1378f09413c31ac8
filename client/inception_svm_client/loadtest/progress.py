"""Progress on stderr: a line rewritten in place on a terminal, a plain line every few
seconds otherwise, so that CI logs show a long run is alive without filling up."""

from __future__ import annotations

from typing import TextIO

from inception_svm_client.loadtest.runner import Progress

LOG_INTERVAL_S = 5.0


class ProgressLine:
    """The rate shown is over the last interval, not the whole run."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._last: Progress | None = None
        self._last_logged_s = 0.0
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        if not self._live and progress.elapsed_s - self._last_logged_s < LOG_INTERVAL_S:
            return
        last = self._last
        rate = 0.0
        if last is not None and progress.elapsed_s > last.elapsed_s:
            rate = (progress.completed - last.completed) / (progress.elapsed_s - last.elapsed_s)
        self._last = progress
        self._last_logged_s = progress.elapsed_s
        phase = "warm-up" if progress.warming_up else "measuring"
        line = (
            f"[{phase}] {progress.elapsed_s:6.1f} s  {progress.completed} done  "
            f"{progress.errors} errors  {progress.in_flight} in flight  {rate:.1f} req/s"
        )
        if self._live:
            self._width = max(self._width, len(line))
            self._stream.write("\r" + line.ljust(self._width))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def say(self, message: str) -> None:
        """A whole line (sweep windows, steps) that stays in the log."""
        self.finish()
        self._stream.write(message + "\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._live and self._last is not None:
            self._stream.write("\n")
            self._stream.flush()
            self._last = None
