"""``inception-svm classify PATH... --server HOST:PORT --svm svm.onnx``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from inception_svm_client.commands import (
    EXIT_BROKEN_PIPE,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    options,
)
from inception_svm_client.commands._interrupts import StopRequest, stop_on_signals
from inception_svm_client.commands._output import check_report, identity, open_records
from inception_svm_client.commands._progress import InputsProgress
from inception_svm_client.commands.sharding import Shard, resolve_shard, shard_output
from inception_svm_client.config import ChannelConfig, FeaturizerConfig
from inception_svm_client.exceptions import ClientError, ErrorCode
from inception_svm_client.files import MAX_TRAINING_REPORT_BYTES, read_bounded, write_atomically
from inception_svm_client.grpc._featurizer import FeatureResult
from inception_svm_client.inputs import IMAGE_SUFFIXES, path_inputs
from inception_svm_client.records import (
    FORMATS,
    OK,
    ClassifyRecord,
    RecordWriter,
    encode_path,
)
from inception_svm_client.report._classify import render_report
from inception_svm_client.svm._classifier import SvmClassifier
from inception_svm_client.svm._metadata import SvmMetadata, TrainingReport

_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ClassifyConfig:
    sources: tuple[str, ...]
    svm_path: Path
    svm_sha256: str | None
    output_format: str
    output_path: Path | None
    resume: bool
    report_path: Path | None
    report_notice: str | None
    training_report_path: Path | None
    max_image_bytes: int
    show_progress: bool
    channel: ChannelConfig
    featurizer: FeaturizerConfig
    features: str | None = None  # --features: must match the SVM's when given
    signature_given: bool = False  # --signature: else the SVM's recorded signature
    shard: Shard | None = None  # --shard / JOB_COMPLETION_INDEX: this run's part of the inputs

    def __post_init__(self) -> None:
        if self.resume and (self.output_path is None or self.output_format != "jsonl"):
            raise ValueError("--resume needs --output FILE in the jsonl format")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClassifyConfig:
        shard = resolve_shard(args.shard, args.shard_count, os.environ)
        return cls(
            sources=tuple(args.paths),
            svm_path=args.svm,
            svm_sha256=args.svm_sha256,
            output_format=args.format,
            output_path=shard_output(args.output, shard),
            resume=args.resume,
            report_path=args.report,
            report_notice=args.report_notice,
            training_report_path=args.training_report,
            max_image_bytes=options.max_image_bytes(args),
            show_progress=not args.no_progress and sys.stderr.isatty(),
            channel=options.channel_config(args),
            featurizer=options.featurizer_config(args),
            features=args.features,
            signature_given=args.signature is not None,
            shard=shard,
        )

    def featurizer_for(self, svm: SvmMetadata) -> FeaturizerConfig:
        """Request the output the SVM was trained on, from its signature; refuse a
        --features that contradicts the SVM's metadata."""
        if self.features is not None and self.features != svm.features:
            raise ClientError(
                ErrorCode.INVALID_CONFIG,
                f"the SVM was trained on {svm.features} features, not {self.features}: "
                f"retrain with --features {self.features} or drop --features",
            )
        spec = self.featurizer.target
        signature_name = spec.signature_name if self.signature_given else None
        spec = dataclasses.replace(
            spec,
            signature_name=signature_name or svm.featurizer.signature_name,
            output_name=svm.features,
        )
        return dataclasses.replace(self.featurizer, target=spec)


def _load_training_report(path: Path | None) -> TrainingReport | None:
    if path is None:
        return None
    data = read_bounded(path, MAX_TRAINING_REPORT_BYTES, "--training-report")
    try:
        return TrainingReport.from_json(data.decode("utf-8"))
    except (ValueError, KeyError, TypeError) as error:
        raise ClientError(
            ErrorCode.INVALID_CONFIG, f"cannot read training report {path}: {error}"
        ) from None


@dataclass
class Tally:
    """What the run did, for the summary line and the exit code."""

    written: int = 0
    failed: int = 0
    flagged: int = 0
    interrupted: int = 0
    skipped: int = 0
    other_shards: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def add(self, record: ClassifyRecord) -> None:
        self.written += 1
        self.statuses[record.status] += 1
        self.failed += record.error is not None
        self.flagged += record.flag is not None

    def summary(self) -> str:
        parts = [f"{self.written} records written"]
        if self.failed:
            codes = ", ".join(
                f"{code} {n}" for code, n in sorted(self.statuses.items()) if code != OK
            )
            parts.append(f"{self.failed} failed ({codes})")
        if self.flagged:
            parts.append(f"{self.flagged} flagged (features from another model version)")
        if self.skipped:
            parts.append(f"{self.skipped} already recorded (skipped)")
        if self.interrupted:
            parts.append(f"{self.interrupted} in flight when interrupted (no record)")
        return ", ".join(parts)


def to_record(result: FeatureResult, classifier: SvmClassifier) -> ClassifyRecord:
    if result.features is None:
        return ClassifyRecord(result.key, error=result.error, status=result.code or "UNKNOWN")
    prediction = classifier.predict(result.features)[0]
    return ClassifyRecord(
        result.key,
        prediction.label,
        prediction.score,
        model_version=result.model_version,
        flag=classifier.metadata.featurizer.version_flag(result.model_version),
        preprocessed=result.preprocessed,
    )


def _open_output(config: ClassifyConfig, stdout: TextIO) -> tuple[TextIO, set[str]]:
    """The stream records go to, and the encoded paths it already holds (``--resume``)."""
    if config.report_path is not None:
        check_report(config.report_path, config.sources, config.output_path)
    if config.output_path is None:
        return stdout, set()
    return open_records(config.output_path, resume=config.resume, sources=config.sources)


def _quiet_closed_stdout(stdout: TextIO) -> None:
    """The reader went away (``| head -1``): point stdout at /dev/null so the interpreter's
    final flush does not print a BrokenPipeError traceback."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)


def classify(config: ClassifyConfig, stdin: TextIO, stdout: TextIO) -> int:
    """Stream one record per input; returns the exit code."""
    try:
        classifier = SvmClassifier.load(config.svm_path, config.svm_sha256)
        featurizer_config = config.featurizer_for(classifier.metadata)
        training = _load_training_report(config.training_report_path)
        out, done = _open_output(config, stdout)
    except ClientError as error:
        _log.error("%s", getattr(error, "details", error))
        return EXIT_USAGE
    tally = Tally()

    def skip(key: str) -> bool:
        if config.shard is not None and not config.shard.holds(key):
            tally.other_shards += 1
            return True
        if encode_path(key) in done:
            tally.skipped += 1
            return True
        return False

    records: list[ClassifyRecord] = []
    try:
        with stop_on_signals() as stop:
            code = _run(
                config,
                classifier,
                featurizer_config,
                stdin,
                out,
                skip,
                stop,
                tally,
                records,
            )
    finally:
        if out is not stdout:
            out.close()
    if code is not None:
        return code
    if stop.exit_code is not None:
        _log.warning("interrupted: %s", tally.summary())
        if config.output_path is not None:
            _log.warning("rerun with --resume --output %s to finish", config.output_path)
        return stop.exit_code
    if config.shard is not None:
        _log.info(
            "shard %s: %d inputs here, %d in other shards",
            config.shard,
            tally.written + tally.skipped,
            tally.other_shards,
        )
    if tally.written == 0 and tally.skipped == 0 and tally.other_shards == 0:
        _log.warning(
            "no inputs found in %s (directories are searched for %s files)",
            " ".join(config.sources),
            ", ".join(sorted(IMAGE_SUFFIXES)),
        )
        return EXIT_PARTIAL
    if config.report_path is not None:
        page = render_report(records, classifier.metadata, training, config.report_notice)
        try:
            write_atomically(config.report_path, page, "--report")
        except ClientError as error:
            _log.error("%s; the records are intact", error)
            return EXIT_USAGE
        _log.info("wrote %s", config.report_path)
    if tally.failed or tally.flagged or tally.skipped or config.output_path is not None:
        _log.info("%s", tally.summary())
    return EXIT_PARTIAL if tally.failed or tally.flagged else EXIT_OK


def _write_failed(config: ClassifyConfig, error: OSError, tally: Tally) -> int:
    where = config.output_path or "stdout"
    _log.error(
        "cannot write records to %s: %s; the %d records written before are intact",
        where,
        error.strerror or error,
        tally.written,
    )
    if config.output_path is not None and config.output_format == "jsonl":
        _log.error("free space, then rerun with --resume --output %s to finish", where)
    return EXIT_USAGE


def _report_outage(config: ClassifyConfig, error: ClientError) -> None:
    budget = config.featurizer.retry.budget_s
    _log.warning(
        "%s: %s: %s; retrying for up to %g s",
        config.channel.target,
        error.code,
        error.details,
        budget,
    )


def _run(
    config: ClassifyConfig,
    classifier: SvmClassifier,
    featurizer_config: FeaturizerConfig,
    stdin: TextIO,
    out: TextIO,
    skip: Callable[[str], bool],
    stop: StopRequest,
    tally: Tally,
    records: list[ClassifyRecord],
) -> int | None:
    """The streaming part; returns an exit code when the run ends early."""
    progress = InputsProgress(sys.stderr, config.show_progress)
    keep_records = config.report_path is not None  # else stream: nothing held per input
    try:
        with (
            contextlib.closing(
                RecordWriter(out, config.output_format, header=not config.resume or not out.tell())
            ) as writer,
            classifier.connect(
                config.channel, featurizer_config, lambda error: _report_outage(config, error)
            ) as featurizer,
        ):
            served = featurizer.fetch_signature(stop.event)
            flag = classifier.metadata.featurizer.version_flag(served.model_version)
            if flag:
                _log.warning("%s; records will be flagged", flag)
            inputs = path_inputs(
                config.sources,
                stdin=stdin,
                max_bytes=config.max_image_bytes,
                skip=skip,
                exclude=identity(config.output_path),
            )
            for result in featurizer.featurize(inputs, stop.event):
                if result.code == ErrorCode.INTERRUPTED:
                    tally.interrupted += 1
                    continue
                record = to_record(result, classifier)
                writer.write(record)
                tally.add(record)
                progress.update(tally.written, tally.failed)
                if keep_records:
                    records.append(record)
    except BrokenPipeError:
        _quiet_closed_stdout(out)
        return EXIT_BROKEN_PIPE
    except OSError as error:  # a full disk, a quota, an I/O error under --output
        return _write_failed(config, error, tally)
    except ClientError as error:
        if stop.exit_code is not None:
            return None  # interrupted while connecting: reported as an interrupt
        _log.error("%s: %s", config.channel.target, error)
        return EXIT_USAGE
    finally:
        progress.close()
    return None


class ClassifyCommand:
    name = "classify"
    help = "classify images (files, directories, '-' for paths on stdin) with an ONNX SVM"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="file, directory or '-'")
        parser.add_argument("--svm", type=Path, required=True, help="svm.onnx from `train`")
        parser.add_argument("--svm-sha256", help="refuse an SVM file with another digest")
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
        parser.add_argument(
            "--output",
            "-o",
            type=Path,
            metavar="FILE",
            help="write records to FILE (one complete, flushed line each) instead of stdout",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="append to --output FILE, skipping inputs it already has a record for",
        )
        parser.add_argument(
            "--shard",
            metavar="INDEX/COUNT",
            help="classify only the inputs of shard INDEX of COUNT (split by a hash of the "
            "path); default: JOB_COMPLETION_INDEX with --shard-count, when set",
        )
        parser.add_argument(
            "--shard-count",
            type=options.bounded_int,
            metavar="COUNT",
            help="the shard count for an Indexed Job's JOB_COMPLETION_INDEX (its completions; "
            "default: $INCEPTION_SVM_SHARD_COUNT); {shard} in --output becomes the index",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
        parser.add_argument("--report", type=Path, help="write a self-contained HTML page")
        parser.add_argument(
            "--training-report", type=Path, help="training JSON from `train` for --report"
        )
        parser.add_argument("--report-notice", help="a warning shown at the top of --report")
        options.add_features_argument(parser, default=None)
        options.add_server_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        try:
            config = ClassifyConfig.from_args(args)
        except ValueError as error:
            _log.error("%s", options.usage_message(error))
            return EXIT_USAGE
        return classify(config, sys.stdin, sys.stdout)


COMMAND = ClassifyCommand()
