"""Progress on stderr (tqdm for every command): drawn only when asked for, a line per
interval when stderr is not a terminal, and whole lines that stay in the log."""

from __future__ import annotations

import io

from inception_svm_client.commands._progress import LOG_INTERVAL_S, InputsProgress, ProgressLine
from inception_svm_client.loadtest.runner import Progress


def test_counter_draws_only_when_enabled() -> None:
    shown, hidden = io.StringIO(), io.StringIO()
    for stream, enabled in ((shown, True), (hidden, False)):
        progress = InputsProgress(stream, enabled)
        progress.update(3, 1)
        progress.close()
    assert "\r3 inputs done, 1 failed" in shown.getvalue() and shown.getvalue()[-1] == "\n"
    assert hidden.getvalue() == ""


def _snapshot(elapsed_s: float, completed: int) -> Progress:
    return Progress(
        elapsed_s=elapsed_s, warming_up=False, completed=completed, errors=0, in_flight=2
    )


def test_progress_line_logs_a_line_per_interval_off_a_terminal() -> None:
    stream = io.StringIO()  # not a TTY
    line = ProgressLine(stream)
    for tick in range(12):
        line(_snapshot(tick * LOG_INTERVAL_S / 4, tick * 10))
    line.say("step 1 done")
    line.finish()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 3  # at 1 and 2 intervals, then the said line
    assert lines[1].startswith("[measuring]") and "80 done" in lines[1]
    assert lines[1].endswith("8.0 req/s")  # over the last interval: 40 calls in 5 s
    assert lines[-1] == "step 1 done"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_rewrites_in_place_on_a_terminal() -> None:
    stream = _Terminal()
    line = ProgressLine(stream)
    line(_snapshot(1.0, 5))
    line(_snapshot(2.0, 15))
    line.say("step 1 done")
    text = stream.getvalue()
    assert "\r[measuring]" in text and "10.0 req/s" in text
    assert text.endswith("step 1 done\n")


def test_the_first_line_shows_the_rate_so_far_not_zero() -> None:
    stream = io.StringIO()  # not a TTY: the first line comes after one interval
    line = ProgressLine(stream)
    line(_snapshot(LOG_INTERVAL_S, 40))
    line.finish()
    (first,) = stream.getvalue().splitlines()
    assert first.endswith(f"{40 / LOG_INTERVAL_S:.1f} req/s"), first
    assert not first.endswith(" 0.0 req/s")


def test_loadtest_model_version_help_does_not_talk_about_an_svm() -> None:
    from inception_svm_client.cli import build_parser, load_commands

    _, parsers = build_parser(load_commands())
    loadtest = parsers["loadtest"]
    help_text = next(a.help for a in loadtest._actions if "--model-version" in a.option_strings)
    assert help_text is not None and "SVM" not in help_text
