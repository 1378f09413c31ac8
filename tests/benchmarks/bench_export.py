"""Export benchmark: export time, SavedModel size and in-process latency, folded vs unfolded.

Not a pytest test (timings on a shared CI box are not assertions); run it directly:

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m tests.benchmarks.bench_export [--runs N]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

BATCH_SIZES = (1, 8, 32)


def _directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _median_ms(call: Callable[[], object], runs: int) -> float:
    for _ in range(2):  # first calls pay for graph optimisation and kernel selection
        call()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="timed calls per batch size")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from inception_svm_export.config import ExportConfig
    from inception_svm_export.random_checkpoint import write_random_checkpoint
    from inception_svm_export.saved_model import export_saved_model
    from inception_svm_export.warmup import bundled_warmup_images

    photo = bundled_warmup_images()[1]
    rng = np.random.default_rng(0)
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = write_random_checkpoint(Path(scratch) / "inception_v1.ckpt")
        for folded in (True, False):
            started = time.perf_counter()
            version_dir = export_saved_model(
                ExportConfig(
                    checkpoint=str(checkpoint),
                    model_dir=Path(scratch) / ("folded" if folded else "unfolded"),
                    fold_batchnorm=folded,
                    cache_dir=Path(scratch) / "cache",
                    show_progress=False,
                )
            )
            export_s = time.perf_counter() - started
            size_mb = _directory_size(version_dir) / 1e6
            model = tf.saved_model.load(str(version_dir))
            pixels_fn = model.signatures["predict_pixels"]
            images_fn = model.signatures["serving_default"]
            for batch in BATCH_SIZES:
                pixels = tf.constant(rng.uniform(-1, 1, (batch, 224, 224, 3)).astype(np.float32))
                images = tf.constant([photo] * batch)
                pixels_ms = _median_ms(functools.partial(pixels_fn, pixels=pixels), args.runs)
                images_ms = _median_ms(functools.partial(images_fn, images=images), args.runs)
                rows.append(
                    f"{'folded' if folded else 'unfolded':>9} {batch:>5} {pixels_ms:>12.1f} "
                    f"{images_ms:>12.1f} {export_s:>9.1f} {size_mb:>8.1f}"
                )
    print(
        f"{'batchnorm':>9} {'batch':>5} {'pixels ms':>12} {'jpeg ms':>12} {'export s':>9} {'MB':>8}"
    )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
