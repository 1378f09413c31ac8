"""Issue 26: which allocator setting gives memory back after a large request without costing
throughput, measured side by side on the machine at hand.

One stand-in per option runs at once (idle while another is timed). In every round each
option, and the in-process TF1 session (the server's own runtime, TF's default pool), gets a
block of calls at batch 1, 8 and 32 in turn, so the shared machine's load spreads evenly over
them. A block is one call after a pause (the others were busy meanwhile: the server may have
trimmed its heap, reported apart) and ``BLOCK`` back-to-back calls, which are steady traffic
and give the ratios. Then each server gets one 8192² PNG (1.6 GB while decoded) and its RSS is
sampled: peak, and 15 s after the answer.

    python -m tests.benchmarks.bench_allocator --model-base-path PATH [--rounds 8]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
from PIL import Image

from inception_svm_client.contract import IMAGES_INPUT, SERVING_SIGNATURE
from tests.harness import ServerHandle, free_port, server_command, subprocess_env
from tests.paths import REPO_ROOT, car_photos
from tests.serving_calls import RssSampler, predict, predict_request, rss_bytes, string_tensor

BATCHES = (1, 8, 32)
BLOCK = 3  # back-to-back calls timed after each option's first call of a round
MIB = 1 << 20
# glibc tunables: serve tensors up to 32 MiB (glibc's maximum) from the heap and never trim it
# on free, so a steady workload reuses warm pages; the server's malloc_trim after a large
# request still hands the memory back.
KEEP_HEAP = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295"
OPTIONS: Mapping[str, Mapping[str, str]] = {
    "pool (SYSTEM_ALLOCATOR=0)": {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "0"},
    "system + warm heap (the default)": {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"},
    # Any explicit glibc setting turns the warm heap off; this one is glibc's own default.
    "system, glibc defaults (GLIBC_TUNABLES=glibc.malloc.mmap_max=65536)": {
        "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1",
        "GLIBC_TUNABLES": "glibc.malloc.mmap_max=65536",
    },
    "pool capped at 1 GiB (TF_MKL_ALLOC_MAX_BYTES)": {
        "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "0",
        "TF_MKL_ALLOC_MAX_BYTES": str(1 << 30),
    },
    "system + glibc keeps its heap, thread arenas (mmap/trim thresholds)": {
        "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1",
        "GLIBC_TUNABLES": KEEP_HEAP,
    },
    "system + glibc never maps, thread arenas (mmap_max=0)": {
        "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1",
        "GLIBC_TUNABLES": "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295",
    },
}


@dataclass(frozen=True)
class OptionResult:
    name: str
    seconds_per_batch: dict[int, float]
    ratio: dict[int, float]  # in-process s/batch / served s/batch
    after_pause_s: float  # batch 32, the first call of a block
    rss_peak_mib: float
    rss_after_mib: float
    rss_before_mib: float
    large_request: str


def _big_png(side: int = 8192) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (side, side), 128).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _start(model_base_path: Path, env: Mapping[str, str], workdir: Path) -> ServerHandle:
    command = server_command(free_port(), free_port(), model_base_path, None, ())
    server = ServerHandle(
        command,
        log_path=Path(tempfile.mkdtemp(dir=workdir)) / "server.log",
        env={**subprocess_env(), **env},
        cwd=REPO_ROOT,
        ready_timeout_s=300,
    )
    server.start()
    server.wait_ready()
    return server


def _inprocess_calls(
    model_base_path: Path, images: Sequence[bytes]
) -> dict[int, Callable[[], object]]:
    from inception_svm_serving.core.runtime import LoadedModel  # TF after the env is set

    version = max(
        (p for p in model_base_path.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
    )
    model = LoadedModel("inception_v1", int(version.name), version)
    calls = {}
    for batch in BATCHES:
        array = np.array([images[i % len(images)] for i in range(batch)], dtype=object)
        calls[batch] = lambda a=array: model.run(SERVING_SIGNATURE, {IMAGES_INPUT: a})
    return calls


def measure(
    model_base_path: Path,
    rounds: int,
    workdir: Path,
    options: Mapping[str, Mapping[str, str]] = OPTIONS,
) -> tuple[dict[int, float], list[OptionResult]]:
    images = [p.read_bytes() for p in car_photos()]
    requests = {
        b: predict_request(string_tensor([images[i % len(images)] for i in range(b)]))
        for b in BATCHES
    }
    servers = {name: _start(model_base_path, env, workdir) for name, env in options.items()}
    try:
        channels = {name: grpc.insecure_channel(s.grpc_target) for name, s in servers.items()}
        inprocess = _inprocess_calls(model_base_path, images)
        timed: dict[str, dict[int, list[float]]] = {
            n: {b: [] for b in BATCHES} for n in ["in-process", *servers]
        }
        after_pause: dict[str, list[float]] = {n: [] for n in servers}
        for round_index in range(rounds + 1):  # one warm-up round, not kept
            for batch in BATCHES:
                for name in timed:
                    for call in range(BLOCK + 1):
                        started = time.perf_counter()
                        if name == "in-process":
                            inprocess[batch]()
                        else:
                            outcome = predict(channels[name], requests[batch], timeout_s=120)
                            assert outcome.code == grpc.StatusCode.OK, (name, outcome)
                        seconds = time.perf_counter() - started
                        if round_index == 0:
                            continue
                        if call:
                            timed[name][batch].append(seconds)
                        elif name in after_pause and batch == max(BATCHES):
                            after_pause[name].append(seconds)
            print(f"  round {round_index + 1}/{rounds + 1}", file=sys.stderr, flush=True)
        medians = {n: {b: statistics.median(v) for b, v in per.items()} for n, per in timed.items()}
        big = predict_request(string_tensor([_big_png()]))
        results = []
        for name, server in servers.items():
            pid = server.process.pid
            before = rss_bytes(pid)
            with RssSampler(pid) as rss:
                outcome = predict(channels[name], big, timeout_s=300)
            time.sleep(15)
            after = rss_bytes(pid)
            results.append(
                OptionResult(
                    name,
                    medians[name],
                    {b: medians["in-process"][b] / medians[name][b] for b in BATCHES},
                    statistics.median(after_pause[name]),
                    rss.peak / MIB,
                    after / MIB,
                    before / MIB,
                    outcome.code.name,
                )
            )
        for channel in channels.values():
            channel.close()
        return medians["in-process"], results
    finally:
        for server in servers.values():
            server.stop()


def format_results(inprocess: Mapping[int, float], results: Sequence[OptionResult]) -> str:
    lines = [
        "| option | s/batch b1 / b8 / b32 | served/in-process b1 / b8 / b32 "
        "| b32 after a pause (s) | RSS before / peak / after (MiB) | 8192² request |",
        "|---|---|---|---|---|---|",
        "| in-process TF1 session (pool) | "
        + " / ".join(f"{inprocess[b]:.3f}" for b in BATCHES)
        + " | 1 / 1 / 1 | | | |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | "
            + " / ".join(f"{r.seconds_per_batch[b]:.3f}" for b in BATCHES)
            + " | "
            + " / ".join(f"{r.ratio[b]:.2f}" for b in BATCHES)
            + f" | {r.after_pause_s:.3f}"
            + f" | {r.rss_before_mib:.0f} / {r.rss_peak_mib:.0f} / {r.rss_after_mib:.0f}"
            + f" | {r.large_request} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_allocator", description=__doc__
    )
    parser.add_argument("--model-base-path", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument(
        "--only", action="append", default=[], help="options whose name contains this text"
    )
    args = parser.parse_args(argv)
    options = {
        name: env
        for name, env in OPTIONS.items()
        if not args.only or any(part in name for part in args.only)
    }
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory(prefix="bench-allocator-") as workdir:
        inprocess, results = measure(args.model_base_path, args.rounds, Path(workdir), options)
    print(format_results(inprocess, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
