"""``inception-svm``: the one place where command-line flags are parsed.

Subcommands come from the ``inception_svm.commands`` entry-point group, so a thin-client
install offers train/classify/loadtest and the full install adds export/serve.
Exit codes: 0 success, 1 partial failure (some inputs failed), 2 usage/connection error,
130/143 interrupted by SIGINT/SIGTERM, 141 stdout closed by its reader.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from inception_svm_client.commands import EXIT_INTERRUPTED, Command


def load_commands() -> dict[str, Command]:
    commands: dict[str, Command] = {}
    for ep in entry_points(group="inception_svm.commands"):
        command: Command = ep.load()
        commands[command.name] = command
    return dict(sorted(commands.items()))


def build_parser(commands: dict[str, Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inception-svm",
        description="Inception v1 features from TF Serving + a linear SVM in ONNX.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands.values():
        sub_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    commands = load_commands()
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    try:
        return commands[args.command].run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
