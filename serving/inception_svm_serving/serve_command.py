"""``inception-svm serve`` and ``python -m inception_svm_serving``: same TF Serving flags.

``inception-svm`` imports every command plugin to build its parser, so this module imports
nothing heavy: config parsing (protobuf, tensorflow_serving), gRPC and TensorFlow are imported
in ``run()``, only when a server is actually started.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from inception_svm_serving.config.flags import add_server_flags

EXIT_USAGE = 2


class ServeCommand:
    name = "serve"
    help = (
        "serve a SavedModel with TF Serving's gRPC/REST API (stand-in for tensorflow_model_server)"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_server_flags(parser)

    def run(self, args: argparse.Namespace) -> int:
        from inception_svm_serving._exceptions import ConfigError
        from inception_svm_serving.config.flags import options_from_args
        from inception_svm_serving.core.memory import prefer_system_allocator

        prefer_system_allocator()  # before anything imports TensorFlow
        if args.version:  # main.cc: printed before any other check, exit 0
            print_version()
            return 0
        try:
            options = options_from_args(args)
            from inception_svm_serving.server import serve  # imports TF: only when serving

            return serve(options)
        except ConfigError as error:
            print(f"inception-svm serve: error: {error}", file=sys.stderr)
            return EXIT_USAGE


def print_version() -> None:
    """tensorflow_model_server --version's two lines (main.cc), for the stand-in, then every
    installed part, as ``inception-svm --version`` prints them, so a bug report names what
    actually ran."""
    from importlib.metadata import version

    import tensorflow as tf

    from inception_svm_client.cli import distribution_versions

    print(f"TensorFlow ModelServer: inception-svm-serving {version('inception-svm')}")
    print(f"TensorFlow Library: {tf.__version__}")
    print(distribution_versions())


COMMAND = ServeCommand()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inception_svm_serving", description=COMMAND.help, allow_abbrev=False
    )
    COMMAND.add_arguments(parser)
    return COMMAND.run(parser.parse_args(argv))
