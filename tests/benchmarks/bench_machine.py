"""What this machine can do at best: dense matmul GFLOP/s in fp32 and bf16 through TensorFlow.

The model's throughput means little alone; as a fraction of the machine's measured matmul
peak it says how much headroom is left (convolutions lower to the same GEMM kernels).
Run alone: ``python -m tests.benchmarks.bench_machine``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass

# Inception v1 at 224x224: 1.498 G multiply-adds per image in its 58 convolutions (summed
# over the Conv2D ops of the exported graph) = 3.0 GFLOP; pooling and bias add are noise.
INCEPTION_V1_GFLOP_PER_IMAGE = 3.0
# 8192: at 4096 the bf16 kernel reached only ~55 % of what it reaches at 8192 on the 2-core
# EPYC (per-call overhead and cache blocking), which made the model look faster than "peak".
MATMUL_SIZE = 8192
REPEATS = 3


@dataclass(frozen=True)
class MachinePeak:
    cpu_model: str
    cores: int
    isa: list[str]
    matmul_size: int
    fp32_gflops: float
    bf16_gflops: float


def cpu_description() -> tuple[str, list[str]]:
    """CPU model name and the vector/matrix extensions that decide the bf16 speed-up."""
    model, flags = platform.processor() or "unknown", set[str]()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
    return model, [flag for flag in wanted if flag in flags]


def matmul_gflops(dtype_name: str, size: int = MATMUL_SIZE, repeats: int = REPEATS) -> float:
    """Best of ``repeats`` square matmuls, in GFLOP/s (2·n³ FLOP each).

    Best-of rather than mean: the peak is the question, and other processes on a shared
    2-core box only ever slow a run down.
    """
    import tensorflow as tf

    dtype = tf.as_dtype(dtype_name)
    a = tf.cast(tf.random.stateless_normal((size, size), seed=(1, 2)), dtype)
    b = tf.cast(tf.random.stateless_normal((size, size), seed=(3, 4)), dtype)

    @tf.function
    def product(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        # Only a corner comes back to Python so the copy out is not timed.
        return tf.linalg.matmul(x, y)[:1, :1]

    product(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2.0 * size**3 / best / 1e9


def measure_machine(size: int = MATMUL_SIZE, repeats: int = REPEATS) -> MachinePeak:
    model, isa = cpu_description()
    return MachinePeak(
        cpu_model=model,
        cores=os.cpu_count() or 1,
        isa=isa,
        matmul_size=size,
        fp32_gflops=matmul_gflops("float32", size, repeats),
        bf16_gflops=matmul_gflops("bfloat16", size, repeats),
    )


def model_fraction_of_peak(images_per_s: float, peak_gflops: float) -> float:
    return images_per_s * INCEPTION_V1_GFLOP_PER_IMAGE / peak_gflops if peak_gflops > 0 else 0.0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(json.dumps(asdict(measure_machine()), indent=2))
