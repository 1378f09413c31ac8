"""``inception-svm imagenet IMAGE... --server HOST:PORT [--top K]``: ImageNet top-k by name."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from inception_svm_client.commands import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, options
from inception_svm_client.config import ChannelConfig, FeaturizerConfig
from inception_svm_client.exceptions import ClientError, ErrorCode
from inception_svm_client.grpc._imagenet import (
    DEFAULT_TOP_K,
    ImagenetClient,
    ImagenetRecord,
    imagenet_config,
    to_record,
)
from inception_svm_client.inputs import path_inputs
from inception_svm_client.records import FORMATS


@dataclass(frozen=True, kw_only=True)
class ImagenetConfig:
    sources: tuple[str, ...]
    top_k: int
    output_format: str
    max_image_bytes: int
    channel: ChannelConfig
    featurizer: FeaturizerConfig

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ImagenetConfig:
        if args.top < 1:
            raise ValueError("--top must be at least 1")
        return cls(
            sources=tuple(args.paths),
            top_k=args.top,
            output_format=args.format,
            max_image_bytes=options.max_image_bytes(args),
            channel=options.channel_config(args),
            featurizer=imagenet_config(options.featurizer_config(args), args.signature),
        )


def _check_top_k(top_k: int, available: int) -> None:
    """``--top`` against what the served model returns (known only once connected)."""
    if not 1 <= top_k <= available:
        raise ClientError(
            ErrorCode.INVALID_CONFIG,
            f"--top must be between 1 and {available} (what the model returns)",
        )


def imagenet(config: ImagenetConfig, stdin: TextIO, stdout: TextIO) -> int:
    """Stream the top classes of every input; returns the exit code."""
    checkpoints: set[str] = set()
    total = failed = 0
    try:
        with ImagenetClient.connect(config.channel, config.featurizer) as client:
            _check_top_k(config.top_k, client.max_top_k())
            writer = _Writer(stdout, config.output_format)
            inputs = path_inputs(config.sources, stdin=stdin, max_bytes=config.max_image_bytes)
            for result in client.featurize(inputs):
                if result.features is None:
                    record = ImagenetRecord(result.key, error=result.error)
                    failed += 1
                else:
                    record = to_record(result.key, result.features, config.top_k)
                    checkpoints.add(record.checkpoint or "unknown")
                writer.write(record)
                total += 1
            writer.close()
    except ClientError as error:
        print(f"error: {config.channel.target}: {error}", file=sys.stderr)
        return EXIT_USAGE
    for checkpoint in sorted(checkpoints):
        meaningless = "" if checkpoint.startswith("official") else ": class names meaningless"
        print(f"weights: {checkpoint}{meaningless}", file=sys.stderr)
    if failed:
        print(f"{failed} of {total} inputs failed", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


class _Writer:
    """jsonl and csv stream; a table waits for every row (column widths)."""

    def __init__(self, out: TextIO, output_format: str) -> None:
        self._out = out
        self._format = output_format
        self._rows: list[ImagenetRecord] = []
        self._csv = csv.writer(out, lineterminator="\n") if output_format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(["path", "rank", "class", "name", "probability", "error"])

    def write(self, record: ImagenetRecord) -> None:
        if self._format == "jsonl":
            self._out.write(json.dumps(record.as_dict()) + "\n")
        elif self._csv is not None:
            if record.error is not None:
                self._csv.writerow([record.path, "", "", "", "", record.error])
            for rank, top in enumerate(record.classes, 1):
                self._csv.writerow(
                    [record.path, rank, top.index, top.name, f"{top.probability:.6f}", ""]
                )
        else:
            self._rows.append(record)
            return
        self._out.flush()

    def close(self) -> None:
        if self._format == "table":
            self._out.write(render_table(self._rows))


def render_table(records: Sequence[ImagenetRecord]) -> str:
    """One line per class, the path on the first; errors in place of the classes."""
    rows = [["path", "rank", "class", "probability", "name"]]
    for record in records:
        if record.error is not None:
            rows.append([record.path, "", "", "", f"error: {record.error}"])
        for rank, top in enumerate(record.classes, 1):
            path = record.path if rank == 1 else ""
            rows.append([path, str(rank), str(top.index), f"{top.probability:.4f}", top.name])
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    buffer = io.StringIO()
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [row[c].rjust(widths[c]) for c in (1, 2, 3)]
        buffer.write("  ".join([*cells, row[4]]).rstrip() + "\n")
    return buffer.getvalue()


class ImagenetCommand:
    name = "imagenet"
    help = "print the top ImageNet classes (names, probabilities) of images: a sanity check"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="IMAGE", help="file, directory or '-'")
        parser.add_argument(
            "--top",
            type=options.bounded_int,
            default=DEFAULT_TOP_K,
            metavar="K",
            help="classes per image",
        )
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
        options.add_server_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        try:
            config = ImagenetConfig.from_args(args)
        except ValueError as error:
            print(f"error: {options.usage_message(error)}", file=sys.stderr)
            return EXIT_USAGE
        return imagenet(config, sys.stdin, sys.stdout)


COMMAND = ImagenetCommand()
