"""TF Serving's thread-pool flags against a CPU limit: what an unset flag costs in a pod.

A container's CPU limit is a CFS quota TensorFlow cannot see: without
``--tensorflow_intra_op_parallelism`` / ``--tensorflow_inter_op_parallelism`` it sizes both
pools from the node's cores (``tensorflow_serving/model_servers/server.cc`` sets them only
when the flags are > 0), and those threads then fight over the quota. This measures the
stand-in's session path (the same session config TF Serving builds) on ONE core, standing
in for a 1-CPU limit, with the pools at 1 (the flags set to the limit), at this machine's
core count (TF's default here) and at 16 (TF's default on a 16-core node).

TensorFlow sizes its pools once per process, from the first session, so each setting runs
in a process of its own; the settings take turns, twice each, and the median counts. Wall
time, not CPU time: throttling and oversubscription show only on the wall clock. Alone:
``python -m tests.benchmarks.bench_thread_pools --model-dir build/models/inception_v1/1``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tests.benchmarks.one_core import pin_to_one_core, run_json
from tests.benchmarks.results import BenchRow

SECTION = "8 thread pools, 1-core limit"
BATCH_SIZE = 8
ROUNDS = 2
LARGE_NODE_THREADS = 16


@dataclass(frozen=True)
class PoolResult:
    threads: int  # intra- and inter-op pool size
    images_per_s: float  # median over the rounds, wall clock, one core


def pool_sizes() -> tuple[int, ...]:
    """The limit (1), TF's default on this machine, and TF's default on a 16-core node."""
    return tuple(dict.fromkeys((1, os.cpu_count() or 1, LARGE_NODE_THREADS)))


def _one_setting(model_dir: Path, threads: int, min_seconds: float) -> float:
    """Images/s of ``predict_pixels`` at BATCH_SIZE on one core with pools of ``threads``."""
    from inception_svm_client.contract import PIXELS_INPUT, PIXELS_SIGNATURE
    from inception_svm_serving.config.options import SessionOptions
    from inception_svm_serving.core.runtime import LoadedModel, session_config

    pin_to_one_core()
    config = session_config(
        SessionOptions(intra_op_parallelism=threads, inter_op_parallelism=threads)
    )
    model = LoadedModel("bench", 1, model_dir, config)
    rng = np.random.default_rng(0)
    pixels = rng.uniform(-1, 1, (BATCH_SIZE, 224, 224, 3)).astype(np.float32)
    inputs = {PIXELS_INPUT: pixels}
    model.run(PIXELS_SIGNATURE, inputs)  # warm up
    calls, started = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - started < min_seconds:
        model.run(PIXELS_SIGNATURE, inputs)
        calls += 1
    return calls * BATCH_SIZE / (time.perf_counter() - started)


def measure_thread_pools(model_dir: Path, min_seconds: float) -> list[PoolResult]:
    """Each pool size in its own pinned process, ROUNDS times in turn; medians."""
    rates: dict[int, list[float]] = {threads: [] for threads in pool_sizes()}
    for _ in range(ROUNDS):
        for threads in rates:
            args = ["--model-dir", str(model_dir), "--threads", str(threads)]
            args += ["--min-seconds", str(min_seconds)]
            rates[threads].append(float(run_json("tests.benchmarks.bench_thread_pools", args)))
    return [PoolResult(t, statistics.median(r)) for t, r in rates.items()]


def thread_pool_rows(results: Sequence[PoolResult]) -> list[BenchRow]:
    """Each pool size's images/s on one core and its ratio to pools sized to the limit."""
    at_limit = next(r.images_per_s for r in results if r.threads == 1)
    rows = []
    for r in results:
        name = f"pools of {r.threads} on 1 core, b{BATCH_SIZE}"
        note = "flags = the CPU limit" if r.threads == 1 else "TF's default on such a node"
        rows.append(BenchRow(SECTION, name, r.images_per_s, "images/s", note=note))
        if r.threads != 1:
            rows.append(BenchRow(SECTION, f"{name} / pools of 1", r.images_per_s / at_limit, "x"))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a version dir")
    parser.add_argument("--min-seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, help="one setting (internal: --json)")
    parser.add_argument("--json", action="store_true", help="print JSON (internal)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        rate = _one_setting(args.model_dir, args.threads, args.min_seconds)
        print(json.dumps(rate) if args.json else f"{rate:.1f} images/s")
        return 0
    results = measure_thread_pools(args.model_dir, args.min_seconds)
    if args.json:
        print(json.dumps([asdict(r) for r in results]))
    else:
        for row in thread_pool_rows(results):
            print(f"{row.name:45} {row.value:8.2f} {row.unit:9} {row.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
