"""Two ways of running a SavedModel, side by side: TF2 signature functions
(``function_path.FunctionModel``, the stand-in's former path) and TF Serving's TF1 session
path (``runtime.LoadedModel``, what the stand-in runs). Prints the max |difference| of
their logits and their images/s at batch 1/8/32 (encoded JPEGs → logits, calls
interleaved; see ``results.interleaved_rates``).

    .venv/bin/python -m tests.benchmarks.runtime_paths [--model-dir DIR/1] [--seconds S]

Without ``--model-dir`` it exports one from a random checkpoint (speed and agreement do
not depend on the weights).
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.results import interleaved_rates
from tests.paths import car_photos

BATCH_SIZES = (1, 8, 32)


def _export(workdir: Path) -> Path:
    from inception_svm_export.export_config import ExportConfig
    from inception_svm_export.random_checkpoint import write_random_checkpoint
    from inception_svm_export.saved_model import export_saved_model

    checkpoint = write_random_checkpoint(workdir / "random.ckpt", fmt="v1", seed=0)
    config = ExportConfig(
        checkpoint=str(checkpoint),
        model_dir=workdir / "m",
        version=1,
        cache_dir=workdir / "cache",
        show_progress=False,
    )
    return export_saved_model(config)


def compare(version_dir: Path, seconds: float) -> None:
    from inception_svm_serving.core.runtime import LoadedModel
    from tests.benchmarks.function_path import FunctionModel

    started = time.monotonic()
    function_path = FunctionModel(version_dir)
    function_load_s = time.monotonic() - started
    session_path = LoadedModel("m", 1, version_dir)
    print(f"load: function {function_load_s:.1f} s, session {session_path.load_seconds:.1f} s")
    photos = [p.read_bytes() for p in car_photos()]
    images = np.array((photos * 2)[:32], dtype=object)
    worst = 0.0
    for size in BATCH_SIZES:
        batch = {"images": images[:size]}
        a = function_path.run("serving_default", batch)["logits"]
        b = session_path.run("serving_default", batch)["logits"]
        worst = max(worst, float(np.max(np.abs(a - b))))
    print(f"max |function - session| over batches {BATCH_SIZES}: {worst:.3g}")
    for size in BATCH_SIZES:
        batch = {"images": images[:size]}
        rates = interleaved_rates(
            {
                "function": (functools.partial(function_path.run, "serving_default", batch), size),
                "session": (functools.partial(session_path.run, "serving_default", batch), size),
            },
            min_seconds=seconds,
        )
        print(
            f"batch {size:>2}: function {rates['function']:6.1f} images/s, "
            f"session {rates['session']:6.1f} images/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a version dir (default: export one)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per batch size")
    args = parser.parse_args()
    if args.model_dir is not None:
        compare(args.model_dir, args.seconds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        compare(_export(Path(tmp)), args.seconds)


if __name__ == "__main__":
    main()
