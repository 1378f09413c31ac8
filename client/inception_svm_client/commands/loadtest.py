"""``inception-svm loadtest``: one run (``--requests``/``--duration``) or a sweep
(``--concurrency-range``/``--rate-range``); flags become a ``LoadTestPlan`` here only."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from inception_svm_client.commands import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    options,
)
from inception_svm_client.commands._progress import ProgressLine
from inception_svm_client.config import DEFAULT_MAX_IMAGE_BYTES
from inception_svm_client.exceptions import ClientError, FileRefused
from inception_svm_client.files import check_target, read_bounded, refuse_inputs
from inception_svm_client.inputs import bundled_cars_dir, images_in_directory
from inception_svm_client.loadtest.html_report import REPORT_EXTRA, plotly_available, render_html
from inception_svm_client.loadtest.plan import (
    Gates,
    LevelRange,
    LoadTestConfig,
    LoadTestPlan,
    Outputs,
    WindowPolicy,
)
from inception_svm_client.loadtest.result_formats import (
    csv_text,
    format_table,
    json_text,
    report_dict,
    write_atomically,
)
from inception_svm_client.loadtest.sweep import PlanResult, run_single, run_sweep

# Every image is held in memory encoded; a few hundred photos already vary the load.
MAX_IMAGES = 512
DEFAULT_CONCURRENCY = 1
DEFAULT_MAX_OUTSTANDING = 64
_WINDOW_DEFAULTS = WindowPolicy()


def load_images(directory: Path, limit: int = MAX_IMAGES) -> tuple[bytes, ...]:
    """The first ``limit`` image files under ``directory`` (sorted), read into memory."""
    if not directory.is_dir():
        raise ValueError(f"--images {directory} is not a directory")
    paths = images_in_directory(directory)[:limit]
    if not paths:
        raise ValueError(f"no image files under {directory}")
    try:
        images = tuple(read_bounded(path, DEFAULT_MAX_IMAGE_BYTES, "image") for path in paths)
    except FileRefused as error:
        raise ValueError(f"cannot use images under {directory}: {error}") from None
    empty = [str(path) for path, data in zip(paths, images, strict=True) if not data]
    if empty:
        raise ValueError(f"empty image files: {', '.join(empty[:5])}")
    return images


def refuse_conflicts(args: argparse.Namespace) -> None:
    """Flags that would otherwise be silently ignored are refused, naming both."""
    shapes = [
        flag
        for flag, value in (
            ("--concurrency", args.concurrency),
            ("--rate", args.rate),
            ("--concurrency-range", args.concurrency_range),
            ("--rate-range", args.rate_range),
        )
        if value is not None
    ]
    if len(shapes) > 1:
        raise ValueError(f"{' and '.join(shapes)} conflict: give one load shape")
    open_loop = args.rate is not None or args.rate_range is not None
    if args.max_outstanding is not None and not open_loop:
        raise ValueError("--max-outstanding applies to an open loop only (--rate, --rate-range)")
    sweep = args.concurrency_range is not None or args.rate_range is not None
    if sweep:
        for flag, value in (("--requests", args.requests), ("--duration", args.duration)):
            if value is not None:
                raise ValueError(
                    f"{flag} conflicts with a sweep: each step lasts until stable "
                    "(--window, --stability, --max-windows)"
                )
    else:
        for flag, value in (
            ("--window", args.window),
            ("--stability", args.stability),
            ("--max-windows", args.max_windows),
        ):
            if value is not None:
                raise ValueError(f"{flag} applies to a sweep (--concurrency-range, --rate-range)")


def check_outputs(outputs: Outputs, images: Path) -> None:
    """Before any load: each file is a regular file or a new name, not an input, and no
    two flags name the same file (the second write would replace the first)."""
    named = [
        (flag, path)
        for flag, path in (
            ("--output", outputs.json),
            ("--csv", outputs.csv),
            ("--html", outputs.html),
        )
        if path is not None
    ]
    seen: dict[str, str] = {}
    for flag, path in named:
        key = os.path.abspath(path)
        if key in seen:
            raise ValueError(f"{flag} {path} is also the {seen[key]} file")
        seen[key] = flag
        try:
            refuse_inputs(path, [images], flag)
            if path.parent.is_dir():
                check_target(path, flag)
        except FileRefused as error:
            raise ValueError(str(error)) from None


def sweep_levels(args: argparse.Namespace) -> tuple[float, ...]:
    if args.rate_range is not None:
        return LevelRange.parse(args.rate_range).levels()
    if args.concurrency_range is not None:
        # Callers are whole: a multiplying step's fractions round, duplicates go.
        levels = LevelRange.parse(args.concurrency_range).levels()
        return tuple(sorted({float(max(1, round(level))) for level in levels}))
    return ()


def plan_from_args(args: argparse.Namespace) -> LoadTestPlan:
    refuse_conflicts(args)
    levels = sweep_levels(args)
    rate = args.rate if args.rate_range is None else levels[0]
    concurrency = args.concurrency if args.concurrency is not None else DEFAULT_CONCURRENCY
    if args.concurrency_range is not None:
        concurrency = int(levels[0])
    windows = WindowPolicy(
        window_s=args.window if args.window is not None else _WINDOW_DEFAULTS.window_s,
        tolerance=args.stability if args.stability is not None else _WINDOW_DEFAULTS.tolerance,
        max_windows=(
            args.max_windows if args.max_windows is not None else _WINDOW_DEFAULTS.max_windows
        ),
    )
    base = LoadTestConfig(
        channel=options.channel_config(args),
        images=load_images(args.images),
        target=options.model_target(args),
        batch_size=args.batch_size,
        concurrency=concurrency,
        connections=args.connections,
        rate=rate,
        max_outstanding=(
            args.max_outstanding if args.max_outstanding is not None else DEFAULT_MAX_OUTSTANDING
        ),
        requests=args.requests,
        duration_s=args.duration if not levels else windows.step_bound_s,
        warmup_s=args.warmup,
        deadline_s=args.deadline,
        check_responses=not args.no_check,
        preprocess=args.preprocess,
    )
    outputs = Outputs(json=args.output, csv=args.csv, html=args.html)
    check_outputs(outputs, args.images)
    if outputs.html is not None and not plotly_available():
        raise ValueError(f"--html needs plotly: {REPORT_EXTRA}")
    return LoadTestPlan(
        base=base,
        levels=levels,
        windows=windows,
        gates=Gates(
            max_error_rate=args.max_error_rate,
            slo_p99_s=None if args.slo_p99 is None else args.slo_p99 / 1000.0,
        ),
        outputs=outputs,
        metrics_url=args.metrics_url,
    )


def execute(plan: LoadTestPlan, stderr: TextIO) -> PlanResult:
    """Run the plan with progress on ``stderr``; raises ClientError before any load."""
    progress = ProgressLine(stderr)
    try:
        if plan.is_sweep:
            return run_sweep(plan, progress.say)
        step, interrupted = run_single(plan, progress)
        return PlanResult(steps=(step,), skipped_levels=(), interrupted=interrupted)
    finally:
        progress.finish()


def load_test(plan: LoadTestPlan, stdout: TextIO, stderr: TextIO) -> int:
    """Run, print the table, write the files. Exit 0 when every gate passed, 1 when one
    failed, 2 when the server, model or metrics endpoint is unusable or a file cannot be
    written, 130 when interrupted (the files still cover what ran)."""
    try:
        result = execute(plan, stderr)
    except ClientError as error:
        print(f"error: {plan.base.channel.target}: {error}", file=stderr)
        return EXIT_USAGE
    report = report_dict(plan, result)
    print(format_table(report), file=stdout)
    writers = (
        (plan.outputs.json, json_text),
        (plan.outputs.csv, csv_text),
        (plan.outputs.html, render_html),
    )
    for path, render in writers:
        if path is None:
            continue
        try:
            write_atomically(path, render(report))
        except (OSError, ClientError) as error:
            print(f"error: cannot write {path}: {error}", file=stderr)
            return EXIT_USAGE
        print(f"wrote {path}", file=stderr)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.passed else EXIT_PARTIAL


class LoadTestCommand:
    name = "loadtest"
    help = "measure throughput and latency of a TF Serving model: one run or a sweep"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        server = options.add_connection_arguments(
            parser,
            model_version_help="version every request names (default: none, so the server "
            "answers with its latest; 'latest' is the same)",
        )
        options.add_preprocess_argument(server)
        server.add_argument(
            "--deadline",
            type=options.finite_float,
            default=30.0,
            metavar="S",
            help="per-request deadline",
        )
        server.add_argument(
            "--connections",
            type=options.bounded_int,
            default=1,
            metavar="N",
            help="separate HTTP/2 connections the load is spread over (at most --concurrency)",
        )
        server.add_argument(
            "--metrics-url",
            default=None,
            metavar="URL",
            help="the server's Prometheus metrics (REST port, e.g. http://host:8501): adds "
            "server latency, batching queue latency and batch size per step",
        )
        load = parser.add_argument_group("load shape (one of)")
        load.add_argument(
            "--concurrency",
            type=options.bounded_int,
            default=None,
            metavar="C",
            help=f"closed loop: C callers, each sends when its previous request returns "
            f"(default {DEFAULT_CONCURRENCY})",
        )
        load.add_argument(
            "--rate",
            type=options.finite_float,
            default=None,
            metavar="R",
            help="open loop: R requests/s on a fixed schedule, whatever the latency",
        )
        load.add_argument(
            "--concurrency-range",
            default=None,
            metavar="START:END:STEP",
            help="sweep closed-loop concurrency; STEP xK multiplies (1:64:x2)",
        )
        load.add_argument(
            "--rate-range",
            default=None,
            metavar="START:END:STEP",
            help="sweep open-loop request rates; STEP xK multiplies",
        )
        load.add_argument(
            "--max-outstanding",
            type=options.bounded_int,
            default=None,
            metavar="N",
            help="open loop: sends due while N requests are in flight are dropped and counted "
            f"(default {DEFAULT_MAX_OUTSTANDING})",
        )
        load.add_argument(
            "--batch-size", type=options.bounded_int, default=1, metavar="B", help="images/request"
        )
        load.add_argument(
            "--images",
            type=Path,
            default=bundled_cars_dir(),
            metavar="DIR",
            help=f"image files to send, first {MAX_IMAGES} (default: the bundled photos)",
        )
        bounds = parser.add_argument_group(
            "one run's bounds (at least one; the first reached ends the run)"
        )
        bounds.add_argument("--requests", type=options.bounded_int, default=None, metavar="N")
        bounds.add_argument("--duration", type=options.finite_float, default=None, metavar="S")
        bounds.add_argument(
            "--warmup",
            type=options.finite_float,
            default=0.0,
            metavar="S",
            help="seconds excluded from figures (per step in a sweep)",
        )
        sweep = parser.add_argument_group("sweep steps: measured in windows until stable")
        sweep.add_argument(
            "--window",
            type=options.finite_float,
            default=None,
            metavar="S",
            help=f"window length (default {_WINDOW_DEFAULTS.window_s:g})",
        )
        sweep.add_argument(
            "--stability",
            type=options.finite_float,
            default=None,
            metavar="FRACTION",
            help=f"stable when the last {_WINDOW_DEFAULTS.stable_windows} windows' throughput "
            f"and mean latency are within this of their average "
            f"(default {_WINDOW_DEFAULTS.tolerance:g})",
        )
        sweep.add_argument(
            "--max-windows",
            type=options.bounded_int,
            default=None,
            metavar="N",
            help=f"give up on stability after N windows; the row is marked unstable "
            f"(default {_WINDOW_DEFAULTS.max_windows})",
        )
        gates = parser.add_argument_group("gates (exit 1 when one fails; a sweep stops there)")
        gates.add_argument(
            "--max-error-rate",
            type=options.finite_float,
            default=0.0,
            metavar="FRACTION",
            help="failed/measured requests allowed per step (default 0: any failure fails)",
        )
        gates.add_argument(
            "--slo-p99",
            type=options.finite_float,
            default=None,
            metavar="MS",
            help="p99 latency limit",
        )
        out = parser.add_argument_group("output (the table always goes to stdout)")
        out.add_argument("--output", type=Path, default=None, help="write the report as JSON")
        out.add_argument("--csv", type=Path, default=None, help="write one CSV line per step")
        out.add_argument(
            "--html",
            type=Path,
            default=None,
            help=f"write a self-contained HTML report with plots (needs: {REPORT_EXTRA})",
        )
        out.add_argument(
            "--no-check",
            action="store_true",
            help="count any answer as OK without checking the logits' shape (less client CPU)",
        )

    def run(self, args: argparse.Namespace) -> int:
        try:
            plan = plan_from_args(args)
        except ValueError as error:
            print(f"error: {options.usage_message(error)}", file=sys.stderr)
            return EXIT_USAGE
        return load_test(plan, sys.stdout, sys.stderr)


COMMAND = LoadTestCommand()
