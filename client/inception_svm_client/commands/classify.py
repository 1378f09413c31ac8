"""``inception-svm classify PATH... --server HOST:PORT --svm svm.onnx``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from inception_svm_client.commands import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    options,
    server_error_message,
)
from inception_svm_client.config import ChannelConfig, FeaturizerConfig
from inception_svm_client.errors import ClientError
from inception_svm_client.featurizer import Featurizer
from inception_svm_client.inputs import path_inputs
from inception_svm_client.records import FORMATS, ClassifyRecord, RecordWriter
from inception_svm_client.report import render_report
from inception_svm_client.svm import SvmClassifier, SvmMetadata, TrainingReport

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifyConfig:
    sources: tuple[str, ...]
    svm_path: Path
    svm_sha256: str | None
    output_format: str
    report_path: Path | None
    report_notice: str | None
    training_report_path: Path | None
    max_image_bytes: int
    channel: ChannelConfig
    featurizer: FeaturizerConfig
    features: str | None = None  # --features: must match the SVM's when given
    signature_given: bool = False  # --signature: else the SVM's recorded signature

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClassifyConfig:
        return cls(
            sources=tuple(args.paths),
            svm_path=args.svm,
            svm_sha256=args.svm_sha256,
            output_format=args.format,
            report_path=args.report,
            report_notice=args.report_notice,
            training_report_path=args.training_report,
            max_image_bytes=options.max_image_bytes(args),
            channel=options.channel_config(args),
            featurizer=options.featurizer_config(args),
            features=args.features,
            signature_given=args.signature is not None,
        )

    def featurizer_for(self, svm: SvmMetadata) -> FeaturizerConfig:
        """Request the output the SVM was trained on, from its signature; refuse a
        --features that contradicts the SVM's metadata."""
        if self.features is not None and self.features != svm.features:
            raise ClientError(
                "INVALID_CONFIG",
                f"the SVM was trained on {svm.features} features, not {self.features}: "
                f"retrain with --features {self.features} or drop --features",
            )
        spec = self.featurizer.signature
        signature_name = spec.signature_name if self.signature_given else None
        spec = dataclasses.replace(
            spec,
            signature_name=signature_name or svm.featurizer.signature_name,
            output_name=svm.features,
        )
        return dataclasses.replace(self.featurizer, signature=spec)


def _load_training_report(path: Path | None) -> TrainingReport | None:
    if path is None:
        return None
    try:
        return TrainingReport.from_json(path.read_text())
    except (OSError, ValueError, KeyError) as error:
        raise ClientError(
            "INVALID_CONFIG", f"cannot read training report {path}: {error}"
        ) from None


def classify(config: ClassifyConfig, stdin: TextIO, stdout: TextIO) -> int:
    """Stream one record per input to stdout; returns the exit code."""
    try:
        classifier = SvmClassifier.load(config.svm_path, config.svm_sha256)
        featurizer_config = config.featurizer_for(classifier.metadata)
        training = _load_training_report(config.training_report_path)
    except ClientError as error:
        _log.error("%s", error.details)
        return EXIT_USAGE
    keep_records = config.report_path is not None  # else stream: nothing held per input
    records: list[ClassifyRecord] = []
    total = failed = 0
    try:
        with (
            contextlib.closing(RecordWriter(stdout, config.output_format)) as writer,
            Featurizer.connect(
                config.channel,
                featurizer_config,
                expected_feature_dim=classifier.metadata.feature_dim,
            ) as featurizer,
        ):
            served = featurizer.signature()
            warning = classifier.metadata.featurizer.check_served(
                served.model_name, served.signature_name, served.model_version
            )
            if warning:
                _log.warning("%s", warning.removeprefix("warning: "))
            inputs = path_inputs(config.sources, stdin=stdin, max_bytes=config.max_image_bytes)
            for result in featurizer.featurize(inputs):
                if result.features is None:
                    record = ClassifyRecord(result.key, error=result.error)
                    failed += 1
                else:
                    prediction = classifier.predict(result.features)[0]
                    record = ClassifyRecord(result.key, prediction.label, prediction.score)
                writer.write(record)
                total += 1
                if keep_records:
                    records.append(record)
    except ClientError as error:
        model = config.featurizer.signature.model_name
        _log.error("%s", server_error_message(error, config.channel.target, model))
        return EXIT_USAGE
    if config.report_path is not None:
        page = render_report(records, classifier.metadata, training, config.report_notice)
        config.report_path.write_text(page, encoding="utf-8")
        _log.info("wrote %s", config.report_path)
    if failed:
        _log.warning("%d of %d inputs failed", failed, total)
        return EXIT_PARTIAL
    return EXIT_OK


class ClassifyCommand:
    name = "classify"
    help = "classify images (files, directories, '-' for paths on stdin) with an ONNX SVM"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="file, directory or '-'")
        parser.add_argument("--svm", type=Path, required=True, help="svm.onnx from `train`")
        parser.add_argument("--svm-sha256", help="refuse an SVM file with another digest")
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
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
            _log.error("%s", error)
            return EXIT_USAGE
        return classify(config, sys.stdin, sys.stdout)


COMMAND = ClassifyCommand()
