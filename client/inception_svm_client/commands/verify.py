"""``inception-svm verify --server HOST:PORT (--model-dir DIR | --golden FILE) [--svm S]``.

What a user runs after a rollout, in CI against staging, or as a post-deploy Job: one
line per check, exit 0 when every check passed, 1 when one failed, 2 when verification
could not run (bad arguments or files, server unreachable).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from inception_svm_client.commands import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, options
from inception_svm_client.config import ChannelConfig, FeaturizerConfig, ModelTarget
from inception_svm_client.exceptions import ClientError, GoldenError, VerifyAborted
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.grpc.channel import create_channel
from inception_svm_client.preprocessing import Preprocess
from inception_svm_client.svm._classifier import SvmClassifier
from inception_svm_client.verify._checks import LATENCY_SAMPLES, Check, Verifier
from inception_svm_client.verify.golden import Golden, golden_path_in, read_golden

FORMATS = ("text", "json")
DEFAULT_DEADLINE_S = 30.0


@dataclass(frozen=True, kw_only=True)
class VerifyConfig:
    golden_path: Path
    svm_path: Path | None
    svm_sha256: str | None
    output_format: str
    latency_samples: int
    channel: ChannelConfig
    target: ModelTarget  # model name/version from flags; tensors from the golden file
    deadline_s: float
    preprocess: Preprocess = "server"  # "client": the golden JPEGs go through the client's

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> VerifyConfig:
        if args.latency_samples < 1:
            raise ValueError("--latency-samples must be at least 1")
        golden_path = args.golden if args.golden is not None else golden_path_in(args.model_dir)
        return cls(
            golden_path=golden_path,
            svm_path=args.svm,
            svm_sha256=args.svm_sha256,
            output_format=args.format,
            latency_samples=args.latency_samples,
            channel=options.channel_config(args),
            target=options.model_target(args),
            deadline_s=args.deadline,
            preprocess=args.preprocess,
        )


def _featurizer_config(config: VerifyConfig, golden: Golden) -> FeaturizerConfig:
    if config.target.signature_name != golden.signature_name:
        raise ValueError(
            f"--signature {config.target.signature_name!r}: the golden outputs are of "
            f"signature {golden.signature_name!r}"
        )
    target = replace(config.target, input_name=golden.input_name, output_name=golden.output_name)
    return FeaturizerConfig(
        target=target, batch_size=1, deadline_s=config.deadline_s, preprocess=config.preprocess
    )


def verify(config: VerifyConfig, stdout: TextIO) -> int:
    """Print the checks as they complete (text) or one document (json); returns the exit
    code."""
    try:
        golden = read_golden(config.golden_path)
        svm = (
            SvmClassifier.load(config.svm_path, config.svm_sha256)
            if config.svm_path is not None
            else None
        )
        featurizer_config = _featurizer_config(config, golden)
    except (GoldenError, ValueError) as error:
        return _could_not_run(config, stdout, str(error))
    except ClientError as error:
        return _could_not_run(config, stdout, error.details)
    identity = golden.identity
    source = (
        f"golden outputs {config.golden_path}: {identity.model} version {identity.version}, "
        f"{identity.precision}, checkpoint sha256 {identity.checkpoint_sha256[:12]}, "
        f"tolerance {golden.tolerance.relative:g} of the largest |logit|"
    )
    text = config.output_format == "text"
    if text:
        print(source, file=stdout, flush=True)
    checks: list[Check] = []
    channel = create_channel(config.channel)
    try:
        with Featurizer(channel, featurizer_config) as featurizer:
            verifier = Verifier(featurizer, channel, golden, svm, config.latency_samples)
            for check in verifier.checks():
                checks.append(check)
                if text:
                    print(_line(check), file=stdout, flush=True)
    except VerifyAborted as aborted:
        return _could_not_run(config, stdout, str(aborted.error), checks)
    finally:
        channel.close()
    failed = [check.name for check in checks if not check.ok]
    if text:
        print(f"{config.channel.target}: {_summary(checks, failed)}", file=stdout)
    else:
        _print_json(stdout, config, checks, ok=not failed, error=None)
    return EXIT_PARTIAL if failed else EXIT_OK


def _line(check: Check) -> str:
    status = "N/A " if not check.applicable else "PASS" if check.ok else "FAIL"
    return f"{status}  {check.name:<45} {check.detail}"


def _summary(checks: list[Check], failed: list[str]) -> str:
    """Counts only what was checked as passed; not-applicable checks are listed apart."""
    skipped = sum(not check.applicable for check in checks)
    applied = len(checks) - skipped
    verdict = f"FAILED: {', '.join(failed)}" if failed else f"all {applied} checks passed"
    return verdict + (f", {skipped} not applicable" if skipped else "")


def _could_not_run(
    config: VerifyConfig, stdout: TextIO, reason: str, checks: list[Check] | None = None
) -> int:
    if config.output_format == "json":
        _print_json(stdout, config, checks or [], ok=False, error=reason)
    else:
        print(f"ERROR {config.channel.target}: could not verify: {reason}", file=stdout)
    return EXIT_USAGE


def _print_json(
    stdout: TextIO, config: VerifyConfig, checks: list[Check], *, ok: bool, error: str | None
) -> None:
    document = {
        "server": config.channel.target,
        "golden": str(config.golden_path),
        "ok": ok,
        "error": error,
        "checks": [check.to_dict() for check in checks],
    }
    print(json.dumps(document, indent=2), file=stdout)


class VerifyCommand:
    name = "verify"
    help = "check that a server serves what was exported (golden outputs, metadata, SVM)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--model-dir",
            type=Path,
            help="the exported version dir, or the model base path (its highest version)",
        )
        source.add_argument(
            "--golden", type=Path, help="assets.extra/inception_svm_golden.json of an export"
        )
        parser.add_argument("--svm", type=Path, help="also check this svm.onnx from `train`")
        parser.add_argument("--svm-sha256", help="refuse an SVM file with another digest")
        parser.add_argument("--format", choices=FORMATS, default="text")
        parser.add_argument(
            "--latency-samples", type=options.bounded_int, default=LATENCY_SAMPLES, metavar="N"
        )
        parser.add_argument(
            "--deadline",
            type=options.finite_float,
            default=DEFAULT_DEADLINE_S,
            metavar="S",
            help="per call (default: %(default)s)",
        )
        server = options.add_connection_arguments(parser)
        options.add_preprocess_argument(server)

    def run(self, args: argparse.Namespace) -> int:
        try:
            config = VerifyConfig.from_args(args)
        except ValueError as error:
            print(f"error: {options.usage_message(error)}", file=sys.stderr)
            return EXIT_USAGE
        return verify(config, sys.stdout)


COMMAND = VerifyCommand()
