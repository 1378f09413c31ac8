"""``make bench``: every performance figure of the project, measured side by side in one run.

One process, one machine, one set of exports: ratios between sections (served vs
in-process, batching on vs off, model vs matmul peak) are only meaningful when nothing
else changed between their measurements. Weights are random by default: speed does not
depend on their values, and the bench then runs offline.

    python -m tests.benchmarks.run --output build/bench.json [--quick] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from inception_svm_client.commands.loadtest import bundled_images_dir, load_images
from tests.benchmarks.bench_client import measure as measure_client_cost
from tests.benchmarks.bench_machine import measure_machine, model_fraction_of_peak
from tests.benchmarks.inprocess import inprocess_images_per_s
from tests.benchmarks.results import BenchRow, at_least, at_most, format_table
from tests.benchmarks.served import BATCHING_FLAGS, closed_loop
from tests.harness import running_server

BATCH_SIZES = (1, 8, 32)
CALLERS = 64
SERVED_RATIO_TARGET = 0.90
BATCHING_RATIO_TARGET = 0.80
CLIENT_MS_TARGET = 0.5
CLIENT_COST_REPEATS = 50


@dataclass(frozen=True)
class Durations:
    """Seconds per measurement; ``--quick`` halves them for a smoke run (noisier)."""

    inprocess_s: float = 4.0
    served_warmup_s: float = 2.0
    served_s: float = 6.0
    callers_warmup_s: float = 3.0
    callers_s: float = 10.0
    matmul_repeats: int = 5

    def scaled(self, factor: float) -> Durations:
        return Durations(
            inprocess_s=self.inprocess_s * factor,
            served_warmup_s=self.served_warmup_s * factor,
            served_s=self.served_s * factor,
            callers_warmup_s=self.callers_warmup_s * factor,
            callers_s=self.callers_s * factor,
            matmul_repeats=max(2, round(self.matmul_repeats * factor)),
        )


def export_models(workdir: Path, checkpoint: str | None) -> dict[str, Path]:
    """Folded and unfolded exports of the same weights; returns {variant: version dir}."""
    from inception_svm_export.config import ExportConfig
    from inception_svm_export.random_checkpoint import write_random_checkpoint
    from inception_svm_export.saved_model import export_saved_model

    if checkpoint is None:
        path = workdir / "checkpoint" / "inception_v1.ckpt"
        path.parent.mkdir(parents=True)
        checkpoint = str(write_random_checkpoint(path, fmt="v1", seed=0))
    exports = {}
    for variant, fold in (("folded", True), ("unfolded", False)):
        exports[variant] = export_saved_model(
            ExportConfig(
                checkpoint=checkpoint,
                model_dir=workdir / variant / "inception_v1",
                version=1,
                fold_batchnorm=fold,
                cache_dir=workdir / "cache",
                show_progress=False,
            )
        )
    return exports


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_benchmarks(
    workdir: Path, images: Sequence[bytes], durations: Durations, checkpoint: str | None
) -> tuple[list[BenchRow], dict[str, Any]]:
    rows: list[BenchRow] = []
    raw: dict[str, Any] = {}

    log("5. machine: fp32/bf16 matmul peak")
    machine = measure_machine(repeats=durations.matmul_repeats)
    raw["machine"] = asdict(machine)

    log("exporting folded and unfolded SavedModels")
    exports = export_models(workdir, checkpoint)

    log("1. in-process SavedModel")
    inprocess = {
        variant: inprocess_images_per_s(
            version_dir, images, BATCH_SIZES, min_seconds=durations.inprocess_s
        )
        for variant, version_dir in exports.items()
    }
    raw["inprocess_images_per_s"] = inprocess
    for batch_size in BATCH_SIZES:
        folded, unfolded = inprocess["folded"][batch_size], inprocess["unfolded"][batch_size]
        rows.append(BenchRow("1 in-process", f"folded b{batch_size}", folded, "images/s"))
        rows.append(BenchRow("1 in-process", f"unfolded b{batch_size}", unfolded, "images/s"))
        rows.append(
            BenchRow("1 in-process", f"folded/unfolded b{batch_size}", folded / unfolded, "x")
        )
    reference = inprocess["folded"][max(BATCH_SIZES)]

    model_base = exports["folded"].parent
    log("2. served over gRPC, one caller; 3. 64 callers, batching off")
    with running_server(model_base) as server:
        served = {
            batch_size: closed_loop(
                server.grpc_target,
                images,
                batch_size=batch_size,
                concurrency=1,
                warmup_s=durations.served_warmup_s,
                duration_s=durations.served_s,
            )
            for batch_size in BATCH_SIZES
        }
        unbatched = closed_loop(
            server.grpc_target,
            images,
            batch_size=1,
            concurrency=CALLERS,
            warmup_s=durations.callers_warmup_s,
            duration_s=durations.callers_s,
        )
    log("3. 64 callers, server batching on")
    with running_server(model_base, extra_flags=BATCHING_FLAGS) as server:
        batched = closed_loop(
            server.grpc_target,
            images,
            batch_size=1,
            concurrency=CALLERS,
            warmup_s=durations.callers_warmup_s,
            duration_s=durations.callers_s,
        )
    raw["served"] = {str(b): asdict(summary) for b, summary in served.items()}
    raw["callers"] = {"batching_off": asdict(unbatched), "batching_on": asdict(batched)}
    for batch_size, summary in served.items():
        ratio = summary.images_per_s / inprocess["folded"][batch_size]
        rows.append(BenchRow("2 served", f"b{batch_size}", summary.images_per_s, "images/s"))
        target, passed = (None, None)
        if batch_size == max(BATCH_SIZES):
            target, passed = at_least(ratio, SERVED_RATIO_TARGET)
        rows.append(
            BenchRow("2 served", f"served/in-process b{batch_size}", ratio, "x", target, passed)
        )
    for name, summary in (("batching off", unbatched), ("batching on", batched)):
        assert summary.latency is not None
        ratio = summary.images_per_s / reference
        note = f"client used {summary.client_cpu_cores:.2f} cores"
        rows.append(
            BenchRow("3 64 callers", f"{name}", summary.images_per_s, "images/s", note=note)
        )
        rows.append(BenchRow("3 64 callers", f"{name} p99", summary.latency.p99 * 1e3, "ms"))
        target, passed = (None, None)
        if name == "batching on":
            target, passed = at_least(ratio, BATCHING_RATIO_TARGET)
        rows.append(
            BenchRow("3 64 callers", f"{name} / in-process b32", ratio, "x", target, passed)
        )

    log("4. client-side cost per image")
    # The client engineer's measurement (bench_client.py), reused rather than redone.
    cost = measure_client_cost(max(BATCH_SIZES), CLIENT_COST_REPEATS)
    raw["client_cost_us_per_image"] = cost
    steps = (
        ("request building", "build_us_per_image"),
        ("response parsing", "parse_us_per_image"),
        ("ONNX SVM", "svm_batched_us_per_image"),
    )
    for label, key in steps:
        rows.append(BenchRow("4 client", label, cost[key] / 1000, "ms/image"))
    total_ms = cost["total_us_per_image"] / 1000
    target, passed = at_most(total_ms, CLIENT_MS_TARGET)
    rows.append(BenchRow("4 client", "total", total_ms, "ms/image", target, passed))

    rows.append(BenchRow("5 machine", "fp32 matmul peak", machine.fp32_gflops, "GFLOP/s"))
    rows.append(BenchRow("5 machine", "bf16 matmul peak", machine.bf16_gflops, "GFLOP/s"))
    for variant in ("folded", "unfolded"):
        fraction = model_fraction_of_peak(inprocess[variant][max(BATCH_SIZES)], machine.fp32_gflops)
        rows.append(BenchRow("5 machine", f"model {variant} b32 / fp32 peak", fraction, "fraction"))
    return rows, raw


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("build/bench.json"))
    parser.add_argument("--quick", action="store_true", help="half the durations (noisier)")
    parser.add_argument("--checkpoint", help="real checkpoint (default: random weights)")
    parser.add_argument("--images", type=Path, default=bundled_images_dir())
    args = parser.parse_args(argv)
    durations = Durations().scaled(0.5) if args.quick else Durations()
    images = load_images(args.images)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="inception-svm-bench-") as workdir:
        rows, raw = run_benchmarks(Path(workdir), images, durations, args.checkpoint)
    machine = raw["machine"]
    print(
        f"machine: {machine['cpu_model']}, {machine['cores']} cores, "
        f"ISA {' '.join(machine['isa'])}; weights: {args.checkpoint or 'random'}"
    )
    print(format_table(rows))
    report = {
        "machine": machine,
        "durations": asdict(durations),
        "images": {"directory": str(args.images), "count": len(images)},
        "wall_s": round(time.monotonic() - started, 1),
        "rows": [asdict(row) | {"verdict": row.verdict} for row in rows],
        "raw": raw,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
