"""``make bench``: every performance figure of the project, measured side by side in one run.

One process, one machine, one set of exports: ratios between sections (served vs
in-process, batching on vs off, model vs matmul peak) are only meaningful when nothing
else changed between their measurements. Weights are random by default: speed does not
depend on their values, and the bench then runs offline.

    python -m tests.benchmarks.run --output build/bench.json [--quick] [--checkpoint PATH]
                                   [--skip-served]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from inception_svm_client.commands.loadtest import load_images
from inception_svm_client.inputs import bundled_cars_dir
from inception_svm_client.loadtest.html_report import plotly_available, render_html
from inception_svm_client.loadtest.result_formats import format_table as format_sweep_table
from inception_svm_client.loadtest.result_formats import write_atomically
from inception_svm_client.loadtest.stats import RunSummary
from tests.benchmarks.bench_client import measure as measure_client_cost
from tests.benchmarks.bench_decode import decode_rows, measure_decode_per_core
from tests.benchmarks.bench_export import (
    BF16_FOLDED,
    FP32_FOLDED,
    Entry,
    ExportedModel,
    Variant,
    export_variants,
    inprocess_calls,
    load_saved_model,
    precision_agreement,
)
from tests.benchmarks.bench_feeding import section as feeding_section
from tests.benchmarks.bench_machine import measure_machine
from tests.benchmarks.bench_peers import measure_peers, peer_rows
from tests.benchmarks.bench_thread_pools import measure_thread_pools, thread_pool_rows
from tests.benchmarks.results import BenchRow, format_table, interleaved_rates
from tests.benchmarks.sections import (
    BATCH_SIZES,
    InProcess,
    Served,
    client_rows,
    inprocess_rows,
    machine_rows,
    served_rows,
)
from tests.benchmarks.served import (
    BATCHING_FLAGS,
    SweepSettings,
    closed_loop,
    concurrency_sweep,
)
from tests.harness import running_server
from tests.paths import car_photos
from tests.serving_calls import rss_bytes

CALLERS = 64
CLIENT_COST_REPEATS = 50


@dataclass(frozen=True)
class Durations:
    """Seconds per measurement; ``--quick`` halves them for a smoke run (noisier)."""

    inprocess_s: float = 4.0
    served_warmup_s: float = 2.0
    served_s: float = 6.0
    callers_warmup_s: float = 3.0
    callers_s: float = 10.0
    sweep_window_s: float = 3.0
    matmul_repeats: int = 3
    peers_s: float = 40.0  # 7 runtimes x 3 batch sizes, interleaved
    decode_per_core_s: float = 30.0  # 5 sizes x 3 decoders, interleaved, one core
    thread_pools_s: float = 8.0  # per process: 3 pool sizes x 2 rounds, one core

    def scaled(self, factor: float) -> Durations:
        return Durations(
            inprocess_s=self.inprocess_s * factor,
            served_warmup_s=self.served_warmup_s * factor,
            served_s=self.served_s * factor,
            callers_warmup_s=self.callers_warmup_s * factor,
            callers_s=self.callers_s * factor,
            sweep_window_s=self.sweep_window_s * factor,
            matmul_repeats=max(2, round(self.matmul_repeats * factor)),
            peers_s=self.peers_s * factor,
            decode_per_core_s=self.decode_per_core_s * factor,
            thread_pools_s=self.thread_pools_s * factor,
        )


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure_inprocess(
    exports: dict[Variant, ExportedModel], images: Sequence[bytes], durations: Durations
) -> InProcess:
    """Every variant and batch size taking turns (see ``interleaved_rates``), so that the
    ratios between them survive whatever else the machine is doing meanwhile."""
    b32 = max(BATCH_SIZES)
    models = {variant: load_saved_model(model.version_dir) for variant, model in exports.items()}
    calls: dict[tuple[Variant, Entry, int], tuple[Callable[[], object], int]] = {}
    for variant, model in models.items():
        for batch_size, call in inprocess_calls(model, images, BATCH_SIZES).items():
            calls[(variant, "images", batch_size)] = (call, batch_size)
    for variant in (FP32_FOLDED, BF16_FOLDED):
        call = inprocess_calls(models[variant], images, (b32,), "pixels")[b32]
        calls[(variant, "pixels", b32)] = (call, b32)
    rates = interleaved_rates(calls, min_seconds=durations.inprocess_s * len(calls))
    return InProcess(
        images_per_s={
            variant: {b: rates[(variant, "images", b)] for b in BATCH_SIZES} for variant in exports
        },
        network_b32_images_per_s={
            variant: rates[(variant, "pixels", b32)] for variant in (FP32_FOLDED, BF16_FOLDED)
        },
        agreement=precision_agreement(models[FP32_FOLDED], models[BF16_FOLDED], bundled_cars_dir()),
    )


def measure_served(model_base: Path, images: Sequence[bytes], durations: Durations) -> Served:
    """Sections 2 and 3 against the stand-in: one caller per batch size, then 64 callers of
    one image each with the server's batching off, then (a fresh server, batching on) the
    concurrency sweep 1 → 64 whose last step is the 64-caller figure; the first server's
    start time and resident memory, when it is up and after those runs."""

    def callers(target: str) -> RunSummary:
        return closed_loop(
            target,
            images,
            batch_size=1,
            concurrency=CALLERS,
            warmup_s=durations.callers_warmup_s,
            duration_s=durations.callers_s,
        )

    started = time.perf_counter()
    with running_server(model_base) as server:
        cold_start_s = time.perf_counter() - started
        rss_serving = rss_bytes(server.process.pid)
        one_caller = {
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
        log("3. 64 callers, server batching off")
        batching_off = callers(server.grpc_target)
        rss_after_load = rss_bytes(server.process.pid)
    log("3. concurrency sweep 1 -> 64 callers, server batching on")
    settings = SweepSettings(window_s=durations.sweep_window_s)
    with running_server(model_base, extra_flags=BATCHING_FLAGS) as server:
        sweep, sweep_report = concurrency_sweep(server, images, settings)
    print(format_sweep_table(sweep_report), file=sys.stderr)
    return Served(
        one_caller,
        batching_off,
        sweep.steps[-1].summary,
        sweep_report,
        cold_start_s=cold_start_s,
        rss_serving_mib=rss_serving / 2**20,
        rss_after_load_mib=rss_after_load / 2**20,
    )


def run_benchmarks(
    workdir: Path,
    images: Sequence[bytes],
    durations: Durations,
    checkpoint: str | None,
    *,
    skip_served: bool,
) -> tuple[list[BenchRow], dict[str, Any], str | None]:
    """All sections; returns the rows, the raw figures and the error that stopped the served
    sections, if any (the other sections' figures are still worth printing then)."""
    raw: dict[str, Any] = {}
    log("5. machine: fp32/bf16 matmul peak")
    machine = measure_machine(repeats=durations.matmul_repeats)
    raw["machine"] = asdict(machine)

    log("exporting fp32 folded, fp32 unfolded and bf16 folded SavedModels")
    exports = export_variants(workdir, checkpoint)
    raw["exports"] = {v.name: asdict(model) for v, model in exports.items()}

    log("1. in-process SavedModel (bytes -> logits, and the network alone at b32)")
    inprocess = measure_inprocess(exports, images, durations)
    raw["inprocess_images_per_s"] = {v.name: r for v, r in inprocess.images_per_s.items()}
    raw["network_b32_images_per_s"] = {
        v.name: r for v, r in inprocess.network_b32_images_per_s.items()
    }
    raw["bf16_agreement"] = asdict(inprocess.agreement)
    rows = inprocess_rows(inprocess)

    served_error = None
    if not skip_served:
        log("2. served over gRPC, one caller per batch size")
        try:
            served = measure_served(exports[FP32_FOLDED].version_dir.parent, images, durations)
        except RuntimeError as error:
            served_error = f"sections 2-3 failed: {error}"
            log(served_error)
        else:
            raw["served"] = {str(b): asdict(s) for b, s in served.one_caller.items()}
            raw["callers"] = {
                "batching_off": asdict(served.callers_batching_off),
                "batching_on": asdict(served.callers_batching_on),
            }
            raw["sweep_batching_on"] = served.sweep_report
            raw["server"] = {
                "cold_start_s": served.cold_start_s,
                "rss_serving_mib": served.rss_serving_mib,
                "rss_after_load_mib": served.rss_after_load_mib,
            }
            rows += served_rows(served, inprocess.images_per_s[FP32_FOLDED])

    log("4. client-side cost per image")
    # The client engineer's measurement (bench_client.py), reused rather than redone.
    cost = measure_client_cost(max(BATCH_SIZES), CLIENT_COST_REPEATS)
    raw["client_cost_us_per_image"] = cost
    rows += client_rows(cost)
    rows += machine_rows(machine, inprocess)

    log("6. runtime peers: TF, TF XLA, ONNX Runtime, OpenVINO (network only, one core)")
    fp32_dir = exports[FP32_FOLDED].version_dir
    bf16_dir = exports[BF16_FOLDED].version_dir
    peers = measure_peers(fp32_dir, bf16_dir, workdir, BATCH_SIZES, durations.peers_s)
    raw["peers"] = [asdict(result) for result in peers]
    rows += peer_rows(peers)
    log("7. decode + preprocess per core, by photo size (own process, one core)")
    decode = measure_decode_per_core(fp32_dir, car_photos(), durations.decode_per_core_s)
    raw["decode_per_core"] = [asdict(result) for result in decode]
    rows += decode_rows(decode)
    log("8. TF Serving's thread-pool flags under a 1-core limit (own processes, one core)")
    pools = measure_thread_pools(fp32_dir, durations.thread_pools_s)
    raw["thread_pools"] = [asdict(result) for result in pools]
    rows += thread_pool_rows(pools)
    rows += [] if skip_served else feeding_section(fp32_dir.parent, raw, log)  # issue 26
    return rows, raw, served_error


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("build/bench.json"))
    parser.add_argument("--quick", action="store_true", help="half the durations (noisier)")
    parser.add_argument("--checkpoint", help="real checkpoint (default: random weights)")
    parser.add_argument("--images", type=Path, default=bundled_cars_dir())
    parser.add_argument(
        "--skip-served", action="store_true", help="skip sections 2-3 (no server process)"
    )
    args = parser.parse_args(argv)
    durations = Durations().scaled(0.5) if args.quick else Durations()
    images = load_images(args.images)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="inception-svm-bench-") as workdir:
        rows, raw, served_error = run_benchmarks(
            Path(workdir), images, durations, args.checkpoint, skip_served=args.skip_served
        )
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
        "error": served_error,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    sweep_report = raw.get("sweep_batching_on")
    if sweep_report is not None and plotly_available():
        page = args.output.with_name(args.output.stem + "_sweep.html")
        write_atomically(page, render_html(sweep_report))
        print(f"wrote {page}", file=sys.stderr)
    if served_error:
        print(served_error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
