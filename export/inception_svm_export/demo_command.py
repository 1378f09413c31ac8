"""``inception-svm demo`` (and ``make demo``): the argparse boundary of the end-to-end demo.

A plugin of the full distribution, like ``export`` and ``serve``: ``inception-svm`` imports
every plugin to build its parser, so the pipeline (gRPC, TensorFlow Serving's protos) is
imported in ``run()`` only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inception_svm_export.export_config import OFFICIAL_CHECKPOINT_URL


class DemoCommand:
    name = "demo"
    help = (
        "end to end: export the checkpoint, serve it, check the cat photo, train the SVM on "
        "the bundled cars, classify, stop the server"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--weights",
            choices=("official", "random"),
            default="official",
            help="random: a random checkpoint (runs offline; predictions meaningless)",
        )
        parser.add_argument(
            "--checkpoint",
            default=OFFICIAL_CHECKPOINT_URL,
            metavar="SRC",
            help="official checkpoint tarball (URL or local file); ignored with --weights=random",
        )
        parser.add_argument(
            "--model-dir",
            type=Path,
            default=Path("build/models/inception_v1"),
            help="model base path; an existing version 1/ is reused ('-random' is appended "
            "with --weights=random)",
        )
        parser.add_argument(
            "--work-dir",
            type=Path,
            default=Path("build/demo"),
            help="the SVM, the reports and the server log",
        )

    def run(self, args: argparse.Namespace) -> int:
        from inception_svm_export.demo import run_demo  # imports gRPC and TF Serving's protos

        return run_demo(args.weights, args.checkpoint, args.model_dir, args.work_dir)


COMMAND = DemoCommand()
