"""Progress on stderr for the long commands, drawn by tqdm, the one progress mechanism of
the CLI (``export`` uses it too): ``train`` a bar over a known total, ``classify`` a counter
(the total is unknown while inputs stream in from stdin or a huge directory), ``loadtest``
its own status line. tqdm redraws in place at most every ``mininterval`` and clears the line
for whole lines written through it; ``--no-progress`` turns each off.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TextIO, TypeVar

from tqdm import tqdm

if TYPE_CHECKING:
    from inception_svm_client.loadtest.runner import Progress

T = TypeVar("T")
_REDRAW_S = 0.5
LOG_INTERVAL_S = 5.0


def over_total(items: Iterator[T], total: int, stream: TextIO, enabled: bool) -> Iterable[T]:
    """``train``: a bar over the images of the training set."""
    if not enabled:
        return items
    return tqdm(items, total=total, desc="featurizing", unit="img", file=stream)


class InputsProgress:
    """``classify``: inputs done and failed, with the rate; drawn only when ``enabled``
    (the caller passes a terminal check, so logs and pipes never see carriage returns)."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._bar = tqdm(
            file=stream,
            disable=not enabled,
            unit=" inputs",
            bar_format="{n} inputs done{postfix} failed, {rate_fmt}",
            postfix="0",
            mininterval=_REDRAW_S,
        )

    def update(self, done: int, failed: int) -> None:
        if self._bar.disable:
            return
        self._bar.postfix = str(failed)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


class ProgressLine:
    """``loadtest``: a status line rewritten in place on a terminal, and a plain line every
    few seconds otherwise, so that CI logs show a long run is alive without filling up. The
    rate shown is over the last interval, not the whole run."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._bar: tqdm[None] | None = None
        self._last: Progress | None = None
        self._last_logged_s = 0.0

    def __call__(self, progress: Progress) -> None:
        if not self._live and progress.elapsed_s - self._last_logged_s < LOG_INTERVAL_S:
            return
        last = self._last
        # Over the last interval; the first line's interval is the run so far (not 0.0).
        since_done, since_s = (0, 0.0) if last is None else (last.completed, last.elapsed_s)
        rate = 0.0
        if progress.elapsed_s > since_s:
            rate = (progress.completed - since_done) / (progress.elapsed_s - since_s)
        self._last = progress
        self._last_logged_s = progress.elapsed_s
        phase = "warm-up" if progress.warming_up else "measuring"
        line = (
            f"[{phase}] {progress.elapsed_s:6.1f} s  {progress.completed} done  "
            f"{progress.errors} errors  {progress.in_flight} in flight  {rate:.1f} req/s"
        )
        if not self._live:
            tqdm.write(line, file=self._stream)
            return
        if self._bar is None:
            self._bar = tqdm(file=self._stream, bar_format="{desc}", mininterval=0)
        self._bar.set_description_str(line)

    def say(self, message: str) -> None:
        """A whole line (sweep windows, steps) that stays in the log."""
        self.finish()
        tqdm.write(message, file=self._stream)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._last = None
