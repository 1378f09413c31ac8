"""Subcommands of ``inception-svm``; each module exposes ``COMMAND``."""

from __future__ import annotations

import argparse
from typing import Protocol

# Exit codes of every subcommand (and of ``make demo``).
EXIT_OK = 0
EXIT_PARTIAL = 1  # some inputs failed, the others were processed
EXIT_USAGE = 2  # bad arguments, unusable files, server or model unreachable or wrong
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT (SIGTERM: 143)
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (as a shell reports SIGPIPE)


class Command(Protocol):
    """A subcommand plugged into ``inception-svm`` through the entry-point group.

    The full install adds ``export`` and ``serve`` through the same group, so the thin
    client never has to know that the TensorFlow side exists.
    """

    name: str
    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...
