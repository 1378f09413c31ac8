"""``inception-svm export``: the argparse boundary of the exporter.

``run`` turns the Namespace into an ``ExportConfig`` at once and converts the exporter's
expected failures into one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from inception_svm_client.exceptions import worded
from inception_svm_export.exceptions import ExportError
from inception_svm_export.export_config import (
    DEFAULT_CACHE_DIR,
    OFFICIAL_CHECKPOINT_URL,
    PRECISIONS,
    ExportConfig,
)

EXIT_OK = 0
EXIT_USAGE = 2
# ExportConfig's fields and the flags that set them: the config words its errors with field
# names, users of this command read its flags.
FLAG_FOR_FIELD = {"version": "--version", "sha256": "--sha256", "precision": "--precision"}


class ExportCommand:
    name = "export"
    help = "export the Inception v1 checkpoint as a TF Serving SavedModel (MODEL_DIR/VERSION)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--checkpoint",
            default=OFFICIAL_CHECKPOINT_URL,
            metavar="SRC",
            help="inception_v1_2016_08_28.tar.gz, its inception_v1.ckpt, a V2 checkpoint "
            "prefix, or an https URL (default: %(default)s)",
        )
        parser.add_argument("--sha256", metavar="HEX", help="expected sha256 of the file/URL")
        parser.add_argument(
            "--cache-dir",
            type=Path,
            default=DEFAULT_CACHE_DIR,
            help="where downloads and extracted tarballs are kept (default: %(default)s)",
        )
        parser.add_argument(
            "--model-dir", type=Path, required=True, help="TF Serving model base path"
        )
        parser.add_argument(
            "--version", type=int, help="version subdirectory (default: next free integer)"
        )
        parser.add_argument(
            "--no-fold-batchnorm",
            dest="fold_batchnorm",
            action="store_false",
            help="keep batch norm as separate ops instead of folding it into the convolutions",
        )
        parser.add_argument(
            "--precision",
            choices=PRECISIONS,
            default="fp32",
            help="bf16 runs the convolutions in bfloat16 (about 2x faster on CPUs with "
            "AVX512-BF16 or AMX, slower without); inputs and logits stay float32 "
            "(default: %(default)s)",
        )

        parser.add_argument(
            "--warmup-batching-parameters",
            type=Path,
            action="append",
            default=[],
            metavar="FILE",
            help="a batching parameters file of a server that will serve this export (e.g. "
            "serving/batching_parameters_gpu.txt); repeat it for every one: a warmup request "
            "is written for every batch size they allow, up to the smallest max_batch_size "
            "(a larger warmup request would fail that server's model load), so no batch "
            "shape is first compiled under live traffic (default: batch sizes 1 and 3)",
        )

    def run(self, args: argparse.Namespace) -> int:
        try:
            config = ExportConfig(
                checkpoint=args.checkpoint,
                model_dir=args.model_dir,
                version=args.version,
                fold_batchnorm=args.fold_batchnorm,
                precision=args.precision,
                sha256=args.sha256,
                cache_dir=args.cache_dir,
                warmup_batching_parameters=tuple(args.warmup_batching_parameters),
            )
        except ValueError as error:
            print(f"inception-svm export: {worded(error, FLAG_FOR_FIELD)}", file=sys.stderr)
            return EXIT_USAGE
        return export(config)


def export(config: ExportConfig) -> int:
    """Run one export, reporting progress on stderr and the version dir on stdout."""
    # Deferred so that `inception-svm --help` does not pay for importing TensorFlow.
    from inception_svm_export.saved_model import export_saved_model

    started = time.monotonic()
    print(f"exporting {config.checkpoint} -> {config.model_dir}", file=sys.stderr)
    try:
        version_dir = export_saved_model(config, report=lambda line: print(line, file=sys.stderr))
    except ExportError as error:
        print(f"inception-svm export: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"exported in {time.monotonic() - started:.1f} s", file=sys.stderr)
    print(version_dir)
    return EXIT_OK


COMMAND = ExportCommand()
