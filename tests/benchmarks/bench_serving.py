"""Serving benchmark (not a test): stand-in vs in-process, batching on vs off, start and memory.

Run: ``.venv/bin/python -m tests.benchmarks.bench_serving [--model-base-path DIR]``. Without a
model dir it exports one from a random checkpoint (speed does not depend on the weights).
Prints one table; every number comes from this run on this machine.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.harness import BATCHING_PARAMETERS, MODEL_NAME, REPO_ROOT, ServerHandle, running_server

PHOTOS = REPO_ROOT / "client" / "inception_svm_client" / "data"


@dataclass(frozen=True)
class LoadResult:
    images_per_s: float
    p50_ms: float
    p99_ms: float
    failures: int
    peak_rss_mib: float


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def photos() -> list[bytes]:
    return [p.read_bytes() for p in sorted(PHOTOS.rglob("*.jpg"))]


def request_for(images: list[bytes]) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL_NAME
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
    return request


def timed_rate(call: Callable[[], object], images_per_call: int, repeats: int) -> float:
    call()  # first call outside the timing: tracing / connection setup
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    return images_per_call * repeats / (time.perf_counter() - started)


def concurrent_load(
    server: ServerHandle, images: list[bytes], callers: int, seconds: float
) -> LoadResult:
    options = [("grpc.max_receive_message_length", -1)]
    channel = grpc.insecure_channel(server.grpc_target, options=options)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    requests = [request_for([image]) for image in images]
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def caller(index: int) -> None:
        n = index
        while not stop.is_set():
            started = time.perf_counter()
            try:
                stub.Predict(requests[n % len(requests)], timeout=120)
            except grpc.RpcError:
                with lock:
                    failures[0] += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
            n += callers

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    time.sleep(3)  # ramp up: queues fill, then measure
    with lock:
        latencies.clear()
    started = time.perf_counter()
    peak = 0.0
    while time.perf_counter() - started < seconds:
        peak = max(peak, rss_mib(server.process.pid))
        time.sleep(0.5)
    with lock:
        measured = list(latencies)
    elapsed = time.perf_counter() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=180)
    channel.close()
    ms = np.array(measured) * 1000
    p50, p99 = (float(v) for v in np.percentile(ms, [50, 99]))
    return LoadResult(len(measured) / elapsed, p50, p99, failures[0], peak)


@contextmanager
def timed_server(base: Path, flags: list[str]) -> Iterator[tuple[ServerHandle, float]]:
    started = time.perf_counter()
    with running_server(base, extra_flags=flags, startup_timeout_s=300) as server:
        yield server, time.perf_counter() - started


def export_random_model(work: Path) -> Path:
    from inception_svm_export.config import ExportConfig
    from inception_svm_export.random_checkpoint import write_random_checkpoint
    from inception_svm_export.saved_model import export_saved_model

    checkpoint = write_random_checkpoint(work / "ckpt" / "inception_v1.ckpt", fmt="v1", seed=0)
    base = work / MODEL_NAME
    export_saved_model(
        ExportConfig(
            checkpoint=str(checkpoint),
            model_dir=base,
            version=1,
            fold_batchnorm=True,
            cache_dir=work / "cache",
            show_progress=False,
        )
    )
    return base


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model-base-path", type=Path, default=REPO_ROOT / "build/models/inception_v1"
    )
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    base: Path = args.model_base_path
    if not base.exists():
        base = export_random_model(Path(tempfile.mkdtemp(prefix="bench-serving-")))
    images = photos()
    batch32 = (images * 2)[:32]
    rows: list[tuple[str, str]] = []

    batching = ["--enable_batching", f"--batching_parameters_file={BATCHING_PARAMETERS}"]
    with timed_server(base, batching) as (server, cold_start):
        rows.append(
            ("cold start to SERVING (process start -> health SERVING)", f"{cold_start:.1f} s")
        )
        rows.append(("RSS after load + warmup", f"{rss_mib(server.process.pid):.0f} MiB"))
        options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
        with grpc.insecure_channel(server.grpc_target, options=options) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request = request_for(batch32)
            served = timed_rate(lambda: stub.Predict(request, timeout=300), 32, args.repeats)
        on = concurrent_load(server, images, args.callers, args.seconds)
    with timed_server(base, []) as (server, _):
        with grpc.insecure_channel(server.grpc_target, options=options) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            served_unbatched = timed_rate(
                lambda: stub.Predict(request, timeout=300), 32, args.repeats
            )
        off = concurrent_load(server, images, args.callers, args.seconds)

    model = tf.saved_model.load(str(sorted(base.iterdir())[-1]))
    signature = model.signatures["serving_default"]
    batch_tensor = tf.constant(batch32)
    in_process = timed_rate(lambda: signature(images=batch_tensor), 32, args.repeats)

    rows += [
        (
            "batch 32 via stand-in, batching on (split into max_batch_size)",
            f"{served:.1f} images/s",
        ),
        ("batch 32 via stand-in, batching off", f"{served_unbatched:.1f} images/s"),
        ("batch 32 in-process SavedModel", f"{in_process:.1f} images/s"),
        ("stand-in (batching off) / in-process ratio", f"{served_unbatched / in_process:.2f}"),
        ("stand-in (batching on) / in-process ratio", f"{served / in_process:.2f}"),
    ]
    for label, result in (("batching on", on), ("batching off", off)):
        rows.append(
            (
                f"{args.callers} callers x 1 image, {label}",
                f"{result.images_per_s:.1f} images/s, p50 {result.p50_ms:.0f} ms, "
                f"p99 {result.p99_ms:.0f} ms, failures {result.failures}, "
                f"peak RSS {result.peak_rss_mib:.0f} MiB",
            )
        )
    width = max(len(name) for name, _ in rows)
    print(f"{'measurement'.ljust(width)} | value")
    print(f"{'-' * width}-|-{'-' * 60}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")


if __name__ == "__main__":
    main()
