"""``inception-svm``: the one place where command-line flags are parsed.

Subcommands come from the ``inception_svm.commands`` entry-point group, so a thin-client
install offers train/classify/loadtest/imagenet/verify and the full install adds
export/serve/demo; in a thin install those three still exist, to say which distribution
provides them. The host imports nothing of the full distribution: the dependencies run from
it to this package, never back (``[tool.importlinter]`` in the root pyproject.toml).
Exit codes: 0 success, 1 partial failure (some inputs failed), 2 usage/connection error,
130/143 interrupted by SIGINT/SIGTERM, 141 stdout closed by its reader.

Conventions every subcommand gets here, so no command has to repeat them: ``--version``,
``-v/-q`` (the ``logging`` level; commands log, they do not print diagnostics), messages
prefixed with ``inception-svm COMMAND:``, an unknown flag reported with the subcommand's own
usage and the closest known flag, every default shown in ``--help``, and defaults taken from
``INCEPTION_SVM_*`` environment variables (see ``ENVIRONMENT``).
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import NoReturn

from inception_svm_client.commands import EXIT_INTERRUPTED, EXIT_USAGE, Command

PROG = "inception-svm"
# Flag destination → environment variable supplying its default: what a deployment sets
# once (a Kubernetes env, a shell profile) instead of repeating on every command.
ENVIRONMENT: Mapping[str, str] = {
    "server": "INCEPTION_SVM_SERVER",
    "model_name": "INCEPTION_SVM_MODEL_NAME",
    "svm": "INCEPTION_SVM_SVM",
    "tls_ca": "INCEPTION_SVM_TLS_CA",
    "tls_cert": "INCEPTION_SVM_TLS_CERT",
    "tls_key": "INCEPTION_SVM_TLS_KEY",
}
# Commands of the full distribution (TensorFlow inside), named so that a thin install can
# say where they come from.
FULL_DISTRIBUTION_COMMANDS = {
    "export": "export the Inception v1 checkpoint as a TF Serving SavedModel",
    "serve": "serve a SavedModel with TF Serving's gRPC/REST API (stand-in)",
    "demo": "end to end: export, serve, train on the bundled cars, classify",
}
FULL_DISTRIBUTION = "inception-svm"
OWN_LOGGERS = ("inception_svm_client", "inception_svm_export", "inception_svm_serving")
_log = logging.getLogger("inception_svm_client")


class MissingDistributionCommand:
    """Stands for ``export``/``serve`` in a thin-client install: any use of it says which
    package to install instead of argparse's "invalid choice"."""

    def __init__(self, name: str, help: str, reason: str) -> None:
        self.name = name
        self.help = f"{help} [needs the full `{FULL_DISTRIBUTION}` distribution]"
        self._reason = reason

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace) -> int:
        _log.error(
            "`%s %s` needs the full `%s` distribution (exporter and server, with "
            "TensorFlow): in a checkout of the repository, pip install . [%s]",
            PROG,
            self.name,
            FULL_DISTRIBUTION,
            self._reason,
        )
        return EXIT_USAGE


def load_commands() -> dict[str, Command]:
    commands: dict[str, Command] = {}
    for ep in entry_points(group="inception_svm.commands"):
        try:
            command: Command = ep.load()
        except ImportError as error:  # e.g. the full distribution without TensorFlow
            if ep.name not in FULL_DISTRIBUTION_COMMANDS:
                raise  # the client's own command: a bug, not a missing package
            help = FULL_DISTRIBUTION_COMMANDS[ep.name]
            command = MissingDistributionCommand(ep.name, help, f"cannot import: {error}")
        commands[command.name] = command
    for name, help in FULL_DISTRIBUTION_COMMANDS.items():
        commands.setdefault(name, MissingDistributionCommand(name, help, "not installed"))
    return dict(sorted(commands.items()))


def distribution_versions() -> str:
    """Every installed part, so a bug report names what actually ran."""
    parts = []
    for name in ("inception-svm-client", FULL_DISTRIBUTION, "tensorflow-cpu", "tensorflow"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(parts)


class _VersionAction(argparse.Action):
    """argparse's own version action wraps the line at the terminal width; scripts parse it."""

    def __init__(self, option_strings: Sequence[str], version: str, dest: str) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print versions, exit"
        )
        self.version = version

    def __call__(self, parser: argparse.ArgumentParser, *_: object, **__: object) -> None:
        print(self.version)
        parser.exit()


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser. Every error it reports (a missing required flag included)
    names the closest known flag for each flag it did not recognise, and ``main`` sends it
    the leftover arguments so that they are reported with this command's usage, not the
    top-level one."""

    _unknown: tuple[str, ...] = ()

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        known = self._known_flags()
        self._unknown = tuple(
            arg
            for arg in (args or ())
            if arg.startswith("--")
            and not any(flag.startswith(arg.split("=", 1)[0]) for flag in known)
        )
        return super().parse_known_args(args, namespace)

    def _known_flags(self) -> list[str]:
        return [flag for action in self._actions for flag in action.option_strings]

    def error(self, message: str) -> NoReturn:
        hints = []
        for flag in self._unknown:
            close = difflib.get_close_matches(flag.split("=", 1)[0], self._known_flags(), n=1)
            if close:
                hints.append(f"{flag}: did you mean {close[0]}?")
        super().error("\n".join([message, *hints]))


def _verbosity_flags(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's parser must not reset what was given before the command.
    group = parser.add_argument_group("output")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more log output (-vv: debug)",
    )
    group.add_argument(
        "-q", "--quiet", action="count", default=argparse.SUPPRESS, help="errors only"
    )


def _apply_environment(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    for action in parser._actions:
        variable = ENVIRONMENT.get(action.dest)
        if variable is None or not action.option_strings:
            continue
        action.help = f"{action.help or ''} [env: {variable}]".strip()
        value = environ.get(variable)
        if value:  # a string default goes through the flag's own type conversion
            action.default = value
            action.required = False


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        help = action.help
        if help == argparse.SUPPRESS or not action.option_strings:
            continue
        if action.default in (None, False, argparse.SUPPRESS) or "%(default)" in (help or ""):
            continue
        action.help = f"{help or ''} (default: %(default)s)".strip()


def build_parser(
    commands: Mapping[str, Command], environ: Mapping[str, str] | None = None
) -> tuple[argparse.ArgumentParser, dict[str, CommandParser]]:
    """The top-level parser and each subcommand's parser, by name."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Inception v1 features from TF Serving + a linear SVM in ONNX.",
        epilog="Environment: "
        + ", ".join(f"{v} (--{d.replace('_', '-')})" for d, v in ENVIRONMENT.items()),
    )
    parser.add_argument(
        "--version", action=_VersionAction, version=f"{PROG} ({distribution_versions()})"
    )
    _verbosity_flags(parser)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=CommandParser
    )
    parsers: dict[str, CommandParser] = {}
    for command in commands.values():
        sub_parser: CommandParser = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
        )
        command.add_arguments(sub_parser)
        if not isinstance(command, MissingDistributionCommand):
            # `export --version N` is the model version it writes: that meaning stays.
            if "--version" not in sub_parser._option_string_actions:
                sub_parser.add_argument(
                    "--version",
                    action=_VersionAction,
                    version=f"{PROG} {command.name} ({distribution_versions()})",
                )
            _verbosity_flags(sub_parser)
            _apply_environment(sub_parser, environ)
            _show_defaults(sub_parser)
        parsers[command.name] = sub_parser
    return parser, parsers


class _Formatter(logging.Formatter):
    """``inception-svm classify: error: ...``; info lines carry no level word."""

    def __init__(self, prog: str) -> None:
        super().__init__()
        self._prog = prog

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if record.levelno == logging.INFO:
            return f"{self._prog}: {message}"
        return f"{self._prog}: {record.levelname.lower()}: {message}"


def log_level(verbose: int, quiet: int) -> int:
    """INFO by default: progress lines ("wrote X") are what a user waits for."""
    levels = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
    return levels[max(0, min(len(levels) - 1, 1 - verbose + quiet))]


def configure_logging(prog: str, level: int) -> None:
    """One stderr handler on the root logger (replacing any from an earlier ``main`` in the
    same process, e.g. the demo or tests). ``level`` applies to our own packages; other
    libraries (TensorFlow's INFO chatter) stay at WARNING unless ``level`` is DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(prog))
    handler.set_name(PROG)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == PROG]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if level == logging.DEBUG else max(level, logging.WARNING))
    for package in OWN_LOGGERS:
        logging.getLogger(package).setLevel(level)


# TensorFlow's C++ INFO and WARNING lines (oneDNN, CPU features, cuda probing) drown the
# commands' own output; `make` sets the same default. A user's own value is kept.
TF_LOG_LEVEL_DEFAULTS = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def main(argv: Sequence[str] | None = None) -> int:
    for name, value in TF_LOG_LEVEL_DEFAULTS.items():
        os.environ.setdefault(name, value)  # before any command imports TensorFlow
    commands = load_commands()
    parser, parsers = build_parser(commands)
    args, extras = parser.parse_known_args(argv)
    if extras and not isinstance(commands.get(args.command), MissingDistributionCommand):
        command_parser = parsers.get(getattr(args, "command", ""))
        if command_parser is None:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        else:
            command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    level = log_level(getattr(args, "verbose", 0), getattr(args, "quiet", 0))
    configure_logging(f"{PROG} {args.command}", level)
    try:
        return commands[args.command].run(args)
    except KeyboardInterrupt:
        _log.error("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
