"""``inception-svm loadtest --server HOST:PORT (--requests N | --duration S)``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from inception_svm_client.commands import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, options
from inception_svm_client.errors import ClientError
from inception_svm_client.inputs import bundled_cars_dir, images_in_directory
from inception_svm_client.loadtest.config import LoadTestConfig
from inception_svm_client.loadtest.progress import ProgressLine
from inception_svm_client.loadtest.report import format_table, report_dict, write_json
from inception_svm_client.loadtest.runner import run_load_test

# Every image is held in memory encoded; a few hundred photos already vary the load.
MAX_IMAGES = 512


def load_images(directory: Path, limit: int = MAX_IMAGES) -> tuple[bytes, ...]:
    """The first ``limit`` image files under ``directory`` (sorted), read into memory."""
    if not directory.is_dir():
        raise ValueError(f"--images {directory} is not a directory")
    paths = images_in_directory(directory)[:limit]
    if not paths:
        raise ValueError(f"no image files under {directory}")
    try:
        images = tuple(path.read_bytes() for path in paths)
    except OSError as error:
        raise ValueError(f"cannot read images under {directory}: {error}") from None
    empty = [str(path) for path, data in zip(paths, images, strict=True) if not data]
    if empty:
        raise ValueError(f"empty image files: {', '.join(empty[:5])}")
    return images


def config_from_args(args: argparse.Namespace) -> LoadTestConfig:
    return LoadTestConfig(
        channel=options.channel_config(args),
        images=load_images(args.images),
        signature=options.signature_spec(args),
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        rate=args.rate,
        max_outstanding=args.max_outstanding,
        requests=args.requests,
        duration_s=args.duration,
        warmup_s=args.warmup,
        deadline_s=args.deadline,
        check_responses=not args.no_check,
        output=args.output,
    )


def load_test(config: LoadTestConfig, stdout: TextIO, stderr: TextIO) -> int:
    """Run, print the table, write the JSON; the run's own errors are figures, not failures."""
    progress = ProgressLine(stderr) if stderr.isatty() else None
    try:
        result = run_load_test(config, progress)
    except ClientError as error:
        print(f"error: {config.channel.target}: {error}", file=stderr)
        return EXIT_USAGE
    finally:
        if progress is not None:
            progress.finish()
    print(format_table(config, result.summary, interrupted=result.interrupted), file=stdout)
    if config.output is not None:
        report = report_dict(config, result.summary, interrupted=result.interrupted)
        try:
            write_json(config.output, report)
        except OSError as error:
            print(f"error: cannot write {config.output}: {error}", file=stderr)
            return EXIT_USAGE
        print(f"wrote {config.output}", file=stderr)
    return EXIT_INTERRUPTED if result.interrupted else EXIT_OK


class LoadTestCommand:
    name = "loadtest"
    help = "measure throughput and latency of a TF Serving model (closed or open loop)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        server = options.add_connection_arguments(parser)
        server.add_argument(
            "--deadline", type=float, default=30.0, metavar="S", help="per-request deadline"
        )
        load = parser.add_argument_group("load")
        load.add_argument(
            "--concurrency",
            type=int,
            default=1,
            metavar="C",
            help="closed loop: C callers, each sends when its previous request returns",
        )
        load.add_argument(
            "--rate",
            type=float,
            default=None,
            metavar="R",
            help="open loop: R requests/s on a fixed schedule, whatever the latency",
        )
        load.add_argument(
            "--max-outstanding",
            type=int,
            default=64,
            metavar="N",
            help="open loop: sends due while N requests are in flight are dropped and counted",
        )
        load.add_argument("--batch-size", type=int, default=1, metavar="B", help="images/request")
        load.add_argument(
            "--images",
            type=Path,
            default=bundled_cars_dir(),
            metavar="DIR",
            help=f"image files to send, first {MAX_IMAGES} (default: the bundled photos)",
        )
        bounds = parser.add_argument_group("bounds (at least one; the first reached ends the run)")
        bounds.add_argument("--requests", type=int, default=None, metavar="N")
        bounds.add_argument("--duration", type=float, default=None, metavar="S")
        bounds.add_argument(
            "--warmup", type=float, default=0.0, metavar="S", help="seconds excluded from figures"
        )
        out = parser.add_argument_group("output")
        out.add_argument("--output", type=Path, default=None, help="write the report as JSON")
        out.add_argument(
            "--no-check",
            action="store_true",
            help="count any answer as OK without checking the logits' shape (less client CPU)",
        )

    def run(self, args: argparse.Namespace) -> int:
        try:
            config = config_from_args(args)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        return load_test(config, sys.stdout, sys.stderr)


COMMAND = LoadTestCommand()
