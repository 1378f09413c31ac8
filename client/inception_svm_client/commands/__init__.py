"""Subcommands of ``inception-svm``; each module exposes ``COMMAND``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # errors imports grpc: `inception-svm --help` must not pay for it
    from inception_svm_client.errors import ClientError

# Exit codes of every subcommand (and of ``make demo``).
EXIT_OK = 0
EXIT_PARTIAL = 1  # some inputs failed, the others were processed
EXIT_USAGE = 2  # bad arguments, unusable files, server or model unreachable or wrong
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class Command(Protocol):
    """A subcommand plugged into ``inception-svm`` through the entry-point group.

    The full install adds ``export`` and ``serve`` through the same group, so the thin
    client never has to know that the TensorFlow side exists.
    """

    name: str
    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def server_error_message(error: ClientError, target: str, model_name: str) -> str:
    """The server's error, plus the usual cause of NOT_FOUND: a server started without
    ``--model_name`` serves TF Serving's default name ``default``, not ours."""
    message = f"{target}: {error}"
    if error.code == "NOT_FOUND":
        message += (
            f"\nhint: the client asks for model {model_name!r}; start the server with "
            f"--model_name={model_name} (TF Serving's default name is 'default') or pass "
            "--model-name NAME to match the server"
        )
    return message
