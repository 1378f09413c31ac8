"""Flags shared by every command that talks to the server, and their conversion into the
typed configs (the only place a Namespace becomes a ChannelConfig/FeaturizerConfig)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from pathlib import Path

from inception_svm_client.config import (
    DEFAULT_FEATURES,
    DEFAULT_MAX_IMAGE_BYTES,
    MIB,
    ChannelConfig,
    FeaturizerConfig,
    ModelTarget,
    RetryPolicy,
    TlsConfig,
)
from inception_svm_client.contract import FEATURE_SIGNATURES
from inception_svm_client.exceptions import worded
from inception_svm_client.preprocessing import PREPROCESS_CHOICES

# The one table from config fields (FeaturizerConfig, ModelTarget, RetryPolicy, TlsConfig,
# LoadTestConfig, WindowPolicy, Gates) to the flags that set them: the configs word their
# errors with field names, and CLI users read them with the flags they typed.
FLAG_FOR_FIELD: Mapping[str, str] = {
    "batch_size": "--batch-size",
    "batch_timeout_ms": "--batch-timeout-ms",
    "budget_s": "--retry-budget",
    "client_cert": "--tls-cert",
    "client_key": "--tls-key",
    "concurrency": "--concurrency",
    "connections": "--connections",
    "deadline_s": "--deadline",
    "duration_s": "--duration",
    "images": "images under --images",
    "latest": "--model-version latest",
    "max_attempts": "--max-attempts",
    "max_error_rate": "--max-error-rate",
    "max_in_flight": "--max-in-flight",
    "max_outstanding": "--max-outstanding",
    "max_windows": "--max-windows",
    "preprocess": "--preprocess",
    "rate": "--rate",
    "requests": "--requests",
    "slo_p99_s": "--slo-p99",
    "tolerance": "--stability",
    "version": "--model-version N",
    "version_label": "--model-version-label",
    "warmup_s": "--warmup",
    "window_s": "--window",
}


INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1  # TF Serving's version numbers are int64


def _ascii(text: str) -> str:
    # int() and float() accept any Unicode digit ("１２"): a flag's value is ASCII.
    stripped = text.strip()
    if not stripped.isascii():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (ASCII digits only)")
    return stripped


def finite_float(text: str) -> float:
    """The type of every float flag: NaN compares false with every bound (so ``--deadline
    nan`` would pass each check and then time out every call) and infinity overflows the
    conversions downstream, so both are refused, naming the flag (argparse adds it)."""
    try:
        value = float(_ascii(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def bounded_int(text: str, maximum: int = INT32_MAX) -> int:
    """The type of every integer flag: ASCII digits, within what the setting can carry
    (a 20-digit value would overflow the int64 fields of the wire format)."""
    try:
        value = int(_ascii(text), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if abs(value) > maximum:
        raise argparse.ArgumentTypeError(f"{text} is out of range (at most {maximum})")
    return value


def usage_message(error: ValueError) -> str:
    """A refused setting as CLI users know it: the fields it names become their flags (the
    one conversion of config errors at the CLI boundary)."""
    return worded(error, FLAG_FOR_FIELD)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """Connection flags plus the featurizer's batching/retry flags (train, classify)."""
    add_connection_arguments(parser)
    add_batching_arguments(parser)


def add_connection_arguments(
    parser: argparse.ArgumentParser, model_version_help: str | None = None
) -> argparse._ArgumentGroup:
    """Where the server is and how to reach it; shared by every command that calls it.
    ``model_version_help``: for commands without an SVM, whose default is not the SVM's."""
    server = parser.add_argument_group("server")
    server.add_argument(
        "--server",
        required=True,
        metavar="HOST:PORT",
        help="TF Serving gRPC address (dns:///host:port, round robin over all addresses)",
    )
    server.add_argument("--model-name", default=ModelTarget.model_name)
    server.add_argument(
        "--signature",
        default=None,
        help="signature to call (default: the one serving the features, serving_default "
        "for logits)",
    )
    server.add_argument(
        "--model-version",
        type=model_version,
        default=None,
        metavar="N|latest",
        help=model_version_help
        or "default: the version the SVM was trained on (classify); 'latest': whatever "
        "the server serves, records from another version than the SVM's are flagged",
    )
    server.add_argument("--model-version-label", default=None)
    server.add_argument("--tls-ca", type=Path, help="PEM root certificate: enables TLS")
    server.add_argument("--tls-cert", type=Path, help="PEM client certificate (mTLS)")
    server.add_argument("--tls-key", type=Path, help="PEM client private key (mTLS)")
    server.add_argument("--tls-server-name", help="expected server name in its certificate")
    return server


def add_batching_arguments(parser: argparse.ArgumentParser) -> None:
    batching = parser.add_argument_group("batching")
    defaults = FeaturizerConfig()
    batching.add_argument("--batch-size", type=bounded_int, default=defaults.batch_size)
    batching.add_argument(
        "--batch-timeout-ms", type=finite_float, default=defaults.batch_timeout_ms
    )
    batching.add_argument("--max-in-flight", type=bounded_int, default=defaults.max_in_flight)
    batching.add_argument("--deadline", type=finite_float, default=defaults.deadline_s, metavar="S")
    batching.add_argument(
        "--retry-budget",
        type=finite_float,
        default=defaults.retry.budget_s,
        metavar="S",
        help="keep retrying UNAVAILABLE/DEADLINE_EXCEEDED/RESOURCE_EXHAUSTED and lost "
        "connections for up to S seconds of outage (default %(default)g: rides out a TF "
        "Serving pod restart); then every input left gets an error record",
    )
    batching.add_argument(
        "--max-attempts",
        type=bounded_int,
        default=defaults.retry.max_attempts,
        metavar="N",
        help="also cap attempts per request (default: only the retry budget bounds them)",
    )
    batching.add_argument(
        "--max-image-mib",
        type=finite_float,
        default=DEFAULT_MAX_IMAGE_BYTES / MIB,
        help="larger files are reported as errors without being sent",
    )
    add_preprocess_argument(batching)


def add_preprocess_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--preprocess``: where JPEGs become the network's input (train, classify, loadtest,
    verify)."""
    parser.add_argument(
        "--preprocess",
        choices=PREPROCESS_CHOICES,
        default=FeaturizerConfig.preprocess,
        help="server: send the encoded images (default); client: decode and resize JPEGs "
        "here, with the same pixels as the server, and send them to predict_pixels (other "
        "formats are still sent as bytes; saves the server's CPU, e.g. on GPU pods)",
    )


def channel_config(args: argparse.Namespace) -> ChannelConfig:
    uses_tls = any((args.tls_ca, args.tls_cert, args.tls_key, args.tls_server_name))
    tls = (
        TlsConfig(
            root_cert=args.tls_ca,
            client_cert=args.tls_cert,
            client_key=args.tls_key,
            server_name_override=args.tls_server_name,
        )
        if uses_tls
        else None
    )
    return ChannelConfig(target=args.server, tls=tls)


LATEST = "latest"


def model_version(text: str) -> int | str:
    if text == LATEST:
        return LATEST
    try:
        version = bounded_int(text, INT64_MAX)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(
            f"{error}: expected a version number or {LATEST!r}"
        ) from None
    if version < 0:
        raise argparse.ArgumentTypeError(f"{text}: a version number is not negative")
    return version


def add_features_argument(parser: argparse.ArgumentParser, default: str | None) -> None:
    """``--features``: which layer the SVM works on (train, classify)."""
    parser.add_argument(
        "--features",
        choices=sorted(FEATURE_SIGNATURES),
        default=default,
        help="logits (1001-d, serving_default) or prelogits (1024-d average pool, signature "
        "'features')"
        + (f"; default {default}" if default else "; default: what the SVM was trained on"),
    )


def model_target(args: argparse.Namespace, features: str = DEFAULT_FEATURES) -> ModelTarget:
    """``features`` names the output to request and, without --signature, the signature."""
    version = args.model_version
    return ModelTarget(
        model_name=args.model_name,
        signature_name=args.signature or FEATURE_SIGNATURES[features],
        version=version if isinstance(version, int) else None,
        version_label=args.model_version_label,
        latest=version == LATEST,
        output_name=features,
    )


def featurizer_config(
    args: argparse.Namespace, features: str = DEFAULT_FEATURES
) -> FeaturizerConfig:
    return FeaturizerConfig(
        target=model_target(args, features),
        batch_size=args.batch_size,
        batch_timeout_ms=args.batch_timeout_ms,
        max_in_flight=args.max_in_flight,
        deadline_s=args.deadline,
        retry=RetryPolicy(budget_s=args.retry_budget, max_attempts=args.max_attempts),
        preprocess=args.preprocess,
    )


MAX_IMAGE_MIB = 64 * 1024  # 64 GiB: far above any photo, far below int overflow


def max_image_bytes(args: argparse.Namespace) -> int:
    limit = int(args.max_image_mib * MIB)
    if limit < 1:
        raise ValueError("--max-image-mib must be positive")
    if args.max_image_mib > MAX_IMAGE_MIB:
        raise ValueError(f"--max-image-mib must be at most {MAX_IMAGE_MIB}")
    return limit
