"""``inception-svm train DATA_DIR --server HOST:PORT --output svm.onnx``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inception_svm_client.commands import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    options,
)
from inception_svm_client.config import DEFAULT_FEATURES, ChannelConfig, FeaturizerConfig
from inception_svm_client.exceptions import ClientError, FileRefused, TrainingDataError
from inception_svm_client.files import check_target, refuse_inputs, write_atomically
from inception_svm_client.grpc._featurizer import FeatureResult, Featurizer
from inception_svm_client.svm._training import (
    describe_report,
    featurize_training_set,
    load_training_set,
    train_svm,
)

_log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    data_dir: Path
    output: Path
    training_report: Path
    c: float
    max_image_bytes: int
    channel: ChannelConfig
    featurizer: FeaturizerConfig
    show_progress: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainConfig:
        if args.c <= 0:
            raise ValueError("-C must be positive")
        output: Path = args.output
        return cls(
            data_dir=args.data_dir,
            output=output,
            training_report=args.training_report or output.with_suffix(".training.json"),
            c=args.c,
            max_image_bytes=options.max_image_bytes(args),
            channel=options.channel_config(args),
            featurizer=options.featurizer_config(args, args.features),
            show_progress=not args.no_progress,
        )


def _progress(total: int, enabled: bool) -> Any:
    def wrap(results: Iterator[FeatureResult]) -> Iterable[FeatureResult]:
        from inception_svm_client.commands._progress import over_total

        return over_total(results, total, sys.stderr, enabled)

    return wrap


def missing_training_packages() -> list[str]:
    """The ``train`` extra is optional: say what to install instead of a traceback."""
    import importlib.util

    return [name for name in ("sklearn", "skl2onnx") if importlib.util.find_spec(name) is None]


def train(config: TrainConfig) -> int:
    missing = missing_training_packages()
    if missing:
        _log.error(
            "training needs %s: pip install 'inception-svm-client[train]'", ", ".join(missing)
        )
        return EXIT_USAGE
    try:
        _check_outputs(config)
        training_set = load_training_set(config.data_dir)
    except (TrainingDataError, FileRefused, ValueError, OSError) as error:
        _log.error("%s", error)
        return EXIT_USAGE
    try:
        with Featurizer.connect(config.channel, config.featurizer) as featurizer:
            progress = _progress(len(training_set.paths), config.show_progress)
            features = featurize_training_set(
                featurizer, training_set, config.max_image_bytes, progress
            )
            trained = train_svm(features, training_set, featurizer, config.c)
    except TrainingDataError as error:
        _log.error("%s", error)
        return EXIT_PARTIAL
    except ClientError as error:
        _log.error("cannot featurize through %s: %s", config.channel.target, error)
        return EXIT_USAGE
    try:
        write_atomically(config.output, trained.onnx_bytes, "--output")
        report = trained.report.to_json() + "\n"
        write_atomically(config.training_report, report, "--training-report")
    except FileRefused as error:
        _log.error("%s", error)
        return EXIT_USAGE
    print(f"features: {trained.metadata.features} ({trained.metadata.feature_dim}-d)")
    print(describe_report(trained.report))
    _log.info("wrote %s and %s", config.output, config.training_report)
    return EXIT_OK


def _check_outputs(config: TrainConfig) -> None:
    """Before any featurizing: both files must be writable, neither inside DATA_DIR (the
    ONNX file would overwrite a training photo, or be read as one next time)."""
    for path, flag in ((config.output, "--output"), (config.training_report, "--training-report")):
        refuse_inputs(path, [config.data_dir], flag)
        path.parent.mkdir(parents=True, exist_ok=True)
        check_target(path, flag)
    if config.output.absolute() == config.training_report.absolute():
        raise FileRefused(f"--training-report {config.training_report} is the --output file")


class TrainCommand:
    name = "train"
    help = "featurize DATA_DIR/<label>/* through the server, fit a linear SVM, export ONNX"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("data_dir", type=Path, metavar="DATA_DIR")
        parser.add_argument("--output", "-o", type=Path, required=True, help="svm.onnx to write")
        parser.add_argument(
            "--training-report",
            type=Path,
            help="JSON with leave-one-out accuracy and confusion matrix "
            "(default: OUTPUT with suffix .training.json)",
        )
        parser.add_argument(
            "-C", dest="c", type=options.finite_float, default=1.0, help="SVM regularisation"
        )
        parser.add_argument("--no-progress", action="store_true")
        options.add_features_argument(parser, default=DEFAULT_FEATURES)
        options.add_server_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        try:
            config = TrainConfig.from_args(args)
        except ValueError as error:
            _log.error("%s", options.usage_message(error))
            return EXIT_USAGE
        return train(config)


COMMAND = TrainCommand()
