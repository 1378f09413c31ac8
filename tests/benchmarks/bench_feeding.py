"""Section 9, GPU feeding: the server's CPU per image outside the network, by photo size,
with the images preprocessed by the server (bytes) or by the client (``--preprocess client``,
pixels), and what each wire format costs and changes.

On a GPU pod the network runs on the GPU and what stays on the pod's CPU is everything else;
with bytes that is mostly the JPEG decode and resize (section 7). The server's CPU is read
from /proc for the stand-in process around each synchronous Predict call (the answer is back,
so its work for that call is done), as CPU-seconds per image; "outside the network" is that
minus the same server's CPU per image for ready-made ``predict_pixels`` requests at the same
batch size (random pixels: the network, the request parsing and the gRPC machinery). The
three kinds of request take turns and the median is kept, so background load spreads evenly.

Wire formats: float32 is what the client sends (the existing ``predict_pixels``). float16 and
uint8 are measured by rounding the client's pixels as such a format would and sending the
result through ``predict_pixels``: the logits are those a compact signature that casts back
in the graph would give, the bytes per image are computed, the server CPU is not (no such
signature is exported). Their SVM decisions are compared with the bytes path's on the 27
bundled photos (a linear SVM fitted on the bytes path's logits of the 20 labelled ones).

Alone: ``python -m tests.benchmarks.bench_feeding --model-base build/models/inception_v1``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inception_svm_client.config import ChannelConfig, ModelTarget
from inception_svm_client.contract import LOGITS_OUTPUT
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._pixels import pixels_target, request_parts
from inception_svm_client.grpc.channel import create_channel
from inception_svm_client.protos.messages import PREDICT_METHOD
from tests.benchmarks.bench_decode import JPEG_QUALITY, SIZES, SIZING_SIZE, photos_at_size
from tests.benchmarks.results import BenchRow, at_most
from tests.harness import running_server
from tests.paths import car_photos, training_photos

SECTION = "9 GPU feeding"
BATCH_SIZE = 8
ROUNDS = 9
CALLS_PER_SAMPLE = 3
BASELINE = "pixels baseline"
MODES = ("bytes", "client")
# Goals of issue 26 (ratios on the machine at hand).
SERVER_CPU_RATIO_TARGET = 0.1  # client mode / bytes path, outside the network, at 1024x768
LOGIT_RATIO_TARGET = 1e-4  # max |Δlogit| / max |logit|, the exact (float32) mode
FORMATS = ("float32", "float16", "uint8")
PIXEL_BYTES = {"float32": 4, "float16": 2, "uint8": 1}


@dataclass(frozen=True)
class SizeFeeding:
    width: int
    height: int
    mean_jpeg_kb: float
    server_cpu_ms: dict[str, float]  # per image: "bytes", "client", "pixels baseline"
    # Per image, beyond the baseline: median of the per-round differences (paired, so the
    # machine's load drifting between rounds cancels).
    outside_network_ms: dict[str, float]
    noise_ms: float  # median |client - baseline - median| over rounds: the measurement's noise
    client_differences_ms: list[float]  # per round, client - baseline (pooled over sizes)
    client_cpu_ms: dict[str, float]  # per image, building the request: "bytes", "client"
    request_bytes: dict[str, float]  # per image on the wire: "bytes", "client"
    max_logit_diff: float  # client mode vs bytes path, these photos
    max_abs_logit: float


@dataclass(frozen=True)
class FormatFidelity:
    name: str
    bytes_per_image: int
    max_logit_diff: float  # vs the bytes path, over the bundled photos
    max_abs_logit: float
    decisions_differing: int  # SVM labels that differ from the bytes path's
    photos: int


@dataclass(frozen=True)
class Feeding:
    sizes: list[SizeFeeding]
    formats: list[FormatFidelity]


def _process_cpu_s(pid: int) -> float:
    """CPU seconds ``pid``'s threads have run, to the nanosecond: the sum of their
    /proc/PID/task/*/schedstat (/proc/PID/stat counts 10 ms ticks, too coarse for one call).
    The server's threads are pools that live as long as it does, so none is lost between
    two readings."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return total / 1e9


def _cpu_per_call(fn: Callable[[], object], repeats: int = 3) -> float:
    """Median CPU seconds of this process per call of ``fn``."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return statistics.median(times)


def _logits(predict: Any, request: bytes, count: int) -> np.ndarray:
    return wire.decode_logits(predict(request, timeout=600), LOGITS_OUTPUT, count)


def _rounded(pixels: np.ndarray, fmt: str) -> np.ndarray:
    """What a ``fmt`` signature would hand the network, back in float32."""
    if fmt == "float16":
        return pixels.astype(np.float16).astype(np.float32)
    if fmt == "uint8":  # [-1, 1] → 0..255 → [-1, 1], the scaling done in the graph
        levels = np.clip(np.rint((pixels + 1.0) * 127.5), 0, 255)
        return (levels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).astype(np.float32)
    return pixels


def _measure_size(
    predict: Any, pid: int, target: ModelTarget, photos: list[bytes], rounds: int
) -> SizeFeeding:
    batch = [photos[i % len(photos)] for i in range(BATCH_SIZE)]
    bytes_request = wire.encode_predict_request(target, batch)
    parts = request_parts(target, batch, "client")
    assert len(parts) == 1 and parts[0].preprocessed == "client", "a photo fell back"
    client_request = parts[0].request
    rng = np.random.default_rng(0)
    random_pixels = rng.uniform(-1, 1, (BATCH_SIZE, 224, 224, 3)).astype(np.float32)
    baseline_request = wire.encode_tensor_request(pixels_target(target), random_pixels)
    requests = {
        "bytes": bytes_request,
        "client": client_request,
        "pixels baseline": baseline_request,
    }
    for request in requests.values():  # untimed: first calls at a shape trace and compile
        predict(request, timeout=600)
    samples: dict[str, list[float]] = {kind: [] for kind in requests}
    kinds = list(requests)
    for round_number in range(rounds):
        # The order turns each round: what one request leaves behind (a freed 36 MB decode
        # buffer the allocator hands back to the kernel) lands on each kind equally often.
        turn = round_number % len(kinds)
        for kind in kinds[turn:] + kinds[:turn]:
            request = requests[kind]
            before = _process_cpu_s(pid)
            for _ in range(CALLS_PER_SAMPLE):
                predict(request, timeout=600)
            samples[kind].append((_process_cpu_s(pid) - before) / (BATCH_SIZE * CALLS_PER_SAMPLE))
    by_bytes = _logits(predict, bytes_request, BATCH_SIZE)
    by_client = _logits(predict, client_request, BATCH_SIZE)
    client_cpu = {
        "bytes": _cpu_per_call(lambda: wire.encode_predict_request(target, batch)),
        "client": _cpu_per_call(lambda: request_parts(target, batch, "client")),
    }
    return SizeFeeding(
        width=0,
        height=0,
        mean_jpeg_kb=float(np.mean([len(p) for p in photos]) / 1e3),
        server_cpu_ms={k: statistics.median(v) * 1e3 for k, v in samples.items()},
        outside_network_ms={
            mode: _paired_median_ms(samples[mode], samples[BASELINE]) for mode in MODES
        },
        noise_ms=_paired_spread_ms(samples["client"], samples[BASELINE]),
        client_differences_ms=[
            (c - b) * 1e3 for c, b in zip(samples["client"], samples[BASELINE], strict=True)
        ],
        client_cpu_ms={k: v / BATCH_SIZE * 1e3 for k, v in client_cpu.items()},
        request_bytes={
            "bytes": len(bytes_request) / BATCH_SIZE,
            "client": len(client_request) / BATCH_SIZE,
        },
        max_logit_diff=float(np.abs(by_client - by_bytes).max()),
        max_abs_logit=float(np.abs(by_bytes).max()),
    )


def _format_fidelity(predict: Any, target: ModelTarget) -> list[FormatFidelity]:
    from sklearn.svm import LinearSVC

    from inception_svm_client.preprocessing import client_pixels

    photos = car_photos()
    data = [path.read_bytes() for path in photos]
    by_bytes = np.concatenate(
        [
            _logits(
                predict, wire.encode_predict_request(target, data[i : i + 8]), len(data[i : i + 8])
            )
            for i in range(0, len(data), 8)
        ]
    )
    pixels = np.stack([client_pixels(d) for d in data])  # type: ignore[misc]
    training = set(training_photos())
    labels = [path.parent.name for path in photos if path in training]
    train_rows = [i for i, path in enumerate(photos) if path in training]
    svm = LinearSVC(C=1.0, max_iter=20000).fit(by_bytes[train_rows], labels)
    expected = svm.predict(by_bytes)
    results = []
    for fmt in FORMATS:
        sent = _rounded(pixels, fmt)
        logits = np.concatenate(
            [
                _logits(
                    predict,
                    wire.encode_tensor_request(pixels_target(target), sent[i : i + 8]),
                    len(sent[i : i + 8]),
                )
                for i in range(0, len(sent), 8)
            ]
        )
        results.append(
            FormatFidelity(
                name=fmt,
                bytes_per_image=224 * 224 * 3 * PIXEL_BYTES[fmt],
                max_logit_diff=float(np.abs(logits - by_bytes).max()),
                max_abs_logit=float(np.abs(by_bytes).max()),
                decisions_differing=int((svm.predict(logits) != expected).sum()),
                photos=len(photos),
            )
        )
    return results


def measure_feeding(model_base: Path, sources: Sequence[Path], rounds: int = ROUNDS) -> Feeding:
    """Start the stand-in on ``model_base`` (default flags) and measure every size."""
    target = ModelTarget()
    with running_server(model_base) as server:
        assert server.process is not None
        pid = server.process.pid
        channel = create_channel(ChannelConfig(target=server.grpc_target))
        try:
            predict = channel.unary_unary(PREDICT_METHOD)
            sizes = []
            for width, height in SIZES:
                photos = photos_at_size(sources, width, height)
                result = _measure_size(predict, pid, target, photos, rounds)
                sizes.append(_with_size(result, width, height))
            formats = _format_fidelity(predict, target)
        finally:
            channel.close()
    return Feeding(sizes, formats)


def _with_size(result: SizeFeeding, width: int, height: int) -> SizeFeeding:
    return SizeFeeding(**(asdict(result) | {"width": width, "height": height}))


def _paired_median_ms(mode: Sequence[float], baseline: Sequence[float]) -> float:
    return statistics.median(m - b for m, b in zip(mode, baseline, strict=True)) * 1e3


def _paired_spread_ms(mode: Sequence[float], baseline: Sequence[float]) -> float:
    differences = [m - b for m, b in zip(mode, baseline, strict=True)]
    middle = statistics.median(differences)
    return statistics.median(abs(d - middle) for d in differences) * 1e3


def outside_network_ms(result: SizeFeeding, mode: str) -> float:
    """Server CPU per image beyond a ready-made predict_pixels request's."""
    return result.outside_network_ms[mode]


def pooled_client_ms(feeding: Feeding) -> float:
    """Client mode's server CPU outside the network, from every size's rounds at once: the
    server gets the very same requests (b8 of 224x224x3 float32) whatever the photo size,
    so all rounds estimate one number, 5 times better sampled than one size alone."""
    return statistics.median(d for r in feeding.sizes for d in r.client_differences_ms)


def feeding_rows(feeding: Feeding) -> list[BenchRow]:
    pooled = pooled_client_ms(feeding)
    rows = [
        BenchRow(
            SECTION,
            "server CPU outside network, client, all sizes pooled",
            pooled,
            "ms/image",
            note="the same pixel requests at every photo size",
        )
    ]
    for r in feeding.sizes:
        size = f"{r.width}x{r.height}"
        by_bytes, by_client = outside_network_ms(r, "bytes"), outside_network_ms(r, "client")
        note = f"{r.mean_jpeg_kb:.0f} kB JPEG q{JPEG_QUALITY}, b{BATCH_SIZE}"
        rows.append(
            BenchRow(
                SECTION,
                f"{size} server CPU outside network, bytes",
                by_bytes,
                "ms/image",
                note=note,
            )
        )
        rows.append(
            BenchRow(
                SECTION,
                f"{size} server CPU outside network, client",
                by_client,
                "ms/image",
                note=f"noise ±{r.noise_ms:.2g} ms; same requests as the baseline's",
            )
        )
        rows.append(
            BenchRow(
                SECTION,
                f"{size} server CPU, predict_pixels baseline",
                r.server_cpu_ms[BASELINE],
                "ms/image",
                note="network + request parsing, random pixels",
            )
        )
        ratio = pooled / by_bytes if by_bytes > 0 else float("nan")
        target, passed = (
            at_most(ratio, SERVER_CPU_RATIO_TARGET)
            if (r.width, r.height) == SIZING_SIZE
            else (None, None)
        )
        rows.append(
            BenchRow(
                SECTION,
                f"{size} server CPU client (pooled)/bytes",
                ratio,
                "x",
                target,
                passed,
                note="outside the network",
            )
        )
        for mode, value in (("bytes", by_bytes), ("client", by_client)):
            rows.append(
                BenchRow(
                    SECTION,
                    f"{size} cores per 1000 images/s, {mode}",
                    value,
                    "cores",
                    note="server CPU outside the network",
                )
            )
        for mode in ("bytes", "client"):
            rows.append(
                BenchRow(
                    SECTION,
                    f"{size} client CPU, {mode}",
                    r.client_cpu_ms[mode],
                    "ms/image",
                    note=f"{r.request_bytes[mode] / 1e3:.0f} kB/image on the wire",
                )
            )
        relative = r.max_logit_diff / r.max_abs_logit
        target, passed = at_most(relative, LOGIT_RATIO_TARGET)
        rows.append(
            BenchRow(
                SECTION, f"{size} client max |Δlogit| / max |logit|", relative, "", target, passed
            )
        )
    for f in feeding.formats:
        relative = f.max_logit_diff / f.max_abs_logit
        exact = f.name == "float32"
        target, passed = at_most(relative, LOGIT_RATIO_TARGET) if exact else (None, None)
        rows.append(
            BenchRow(
                SECTION,
                f"wire {f.name} max |Δlogit| / max |logit|",
                relative,
                "",
                target,
                passed,
                note=f"{f.bytes_per_image / 1e3:.0f} kB/image, bundled photos",
            )
        )
        target, passed = at_most(f.decisions_differing, 0) if exact else (None, None)
        rows.append(
            BenchRow(
                SECTION,
                f"wire {f.name} SVM decisions differing",
                f.decisions_differing,
                f"of {f.photos}",
                target,
                passed,
            )
        )
    return rows


def section(model_base: Path, raw: dict[str, Any], log: Callable[[str], None]) -> list[BenchRow]:
    """Section 9 for ``run.py``: measures, records the raw figures, returns the rows."""
    log("9. GPU feeding: server CPU outside the network, bytes vs client preprocessing")
    feeding = measure_feeding(model_base, car_photos())
    raw["gpu_feeding"] = asdict(feeding)
    return feeding_rows(feeding)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-base", type=Path, required=True, help="holds version dirs")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    from tests.benchmarks.bench_machine import measure_machine
    from tests.benchmarks.results import format_table

    feeding = measure_feeding(args.model_base, car_photos(), args.rounds)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(feeding), indent=2) + "\n")
    print(f"machine: {measure_machine(repeats=1).cpu_model}")
    print(format_table(feeding_rows(feeding)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
