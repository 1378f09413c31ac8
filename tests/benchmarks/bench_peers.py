"""Is TensorFlow the fastest way to run this network on this CPU? The exported network
(``predict_pixels``: batch norm folded into the convolutions) against the runtimes a serving
team could pick instead, same weights, same inputs, same process, taking turns call by call.

- **TF**: the SavedModel's ``predict_pixels`` signature, as TF Serving runs it.
- **TF XLA**: the same network under ``tf.function(jit_compile=True)``. TF Serving runs such
  a model only with ``--xla_cpu_compilation_enabled=true`` (tensorflow/serving,
  ``tensorflow_serving/model_servers/main.cc``: without it, ``DisableXlaCompilation()`` and
  the first call of a jit-compiled function fails).
- **TF frozen**: the same network with its variables turned into constants
  (``convert_variables_to_constants_v2``): whether constant filters, which the peers get as
  initializers and pack once, are what makes them faster.
- **ONNX Runtime**: converted with tf2onnx; already the client's runtime for the SVM.
- **OpenVINO**: reads that ONNX file; f32 forced, and separately its default precision on
  this CPU (bf16 where the CPU has AVX512-BF16/AMX, which changes the logits), next to our
  own ``--precision bf16`` export (``predict_pixels``), its TF equivalent.

Measured per core: every runtime with one thread, in a process pinned to one CPU, timed in
CPU seconds (``tests.benchmarks.one_core``), so that the comparison holds on a shared machine
and says which runtime does the most per core; the conversion runs in the bench process.

The converters get the network without the export's empty-batch guard (a ``tf.cond`` around
it that works around TF's oneDNN Conv2D at N=0): tf2onnx cannot infer the kernel shapes
inside that conditional branch. The network is rebuilt from the SavedModel's own variables,
so all runtimes see exactly the served weights. Needs the ``bench`` extra (tf2onnx, openvino).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.one_core import cpu_clock, one_thread_tensorflow, pin_to_one_core, run_json
from tests.benchmarks.results import BenchRow, at_most, interleaved_rates

TF, TF_XLA, TF_FROZEN, ORT, OPENVINO = ("TF", "TF XLA", "TF frozen", "ONNX Runtime", "OpenVINO f32")
TF_BF16, OPENVINO_DEFAULT = "TF bf16 export", "OpenVINO default"
# Runtimes whose logits may differ from TF fp32 by more than float32 rounding.
REDUCED_PRECISION = (TF_BF16, OPENVINO_DEFAULT)
ONNX_OPSET = 17
# Same-precision peers must agree with TF to float32 rounding (different summation orders).
FP32_LOGIT_TOLERANCE = 1e-3
SECTION = "6 runtime peers"


@dataclass(frozen=True)
class PeerResult:
    runtime: str
    batch_size: int
    images_per_s: float
    max_abs_logit_diff: float  # against TF, same input (batch 8)
    note: str = ""


def network_function(model: Any) -> tuple[Any, list[Any]]:
    """The exported network alone, as a tf.function over the loaded SavedModel's variables."""
    import tensorflow as tf

    from inception_svm_export.network import InceptionV1

    network = InceptionV1(dict(model.weights), folded=True)
    spec = [tf.TensorSpec([None, 224, 224, 3], tf.float32, name="pixels")]
    return tf.function(network.__call__, input_signature=spec), spec


def convert_to_onnx(model: Any, path: Path) -> Path:
    import tf2onnx

    function, spec = network_function(model)
    tf2onnx.convert.from_function(
        function, input_signature=spec, opset=ONNX_OPSET, output_path=str(path)
    )
    return path


def _runtime_calls(
    model: Any, bf16_model: Any, onnx_path: Path
) -> dict[str, tuple[Callable[[Any], Any], str]]:
    """runtime → (pixels array → logits array, note), each runtime with one thread."""
    import onnxruntime
    import openvino
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    signature = model.signatures["predict_pixels"]
    bf16_signature = bf16_model.signatures["predict_pixels"]
    network, spec = network_function(model)
    xla = tf.function(network.python_function, input_signature=spec, jit_compile=True)
    frozen = convert_variables_to_constants_v2(network.get_concrete_function())
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(onnx_path), options, providers=["CPUExecutionProvider"]
    )
    input_name = session.get_inputs()[0].name
    core = openvino.Core()
    ov_model = core.read_model(str(onnx_path))
    one_thread = {"INFERENCE_NUM_THREADS": 1}
    ov_f32 = core.compile_model(ov_model, "CPU", one_thread | {"INFERENCE_PRECISION_HINT": "f32"})
    ov_default = core.compile_model(ov_model, "CPU", one_thread)
    default_precision = str(ov_default.get_property("INFERENCE_PRECISION_HINT"))
    return {
        TF: (lambda x: signature(pixels=tf.constant(x))["logits"].numpy(), "predict_pixels"),
        TF_XLA: (lambda x: xla(tf.constant(x)).numpy(), "tf.function(jit_compile=True)"),
        TF_FROZEN: (lambda x: frozen(tf.constant(x))[0].numpy(), "variables as constants"),
        ORT: (lambda x: session.run(None, {input_name: x})[0], f"tf2onnx opset {ONNX_OPSET}"),
        OPENVINO: (lambda x: ov_f32(x)[0], "INFERENCE_PRECISION_HINT=f32"),
        TF_BF16: (lambda x: bf16_signature(pixels=tf.constant(x))["logits"].numpy(), "bf16"),
        OPENVINO_DEFAULT: (lambda x: ov_default(x)[0], f"precision {default_precision}"),
    }


def measure_peers(
    version_dir: Path,
    bf16_version_dir: Path,
    workdir: Path,
    batch_sizes: Sequence[int],
    min_seconds: float,
) -> list[PeerResult]:
    """Convert the export to ONNX here, then measure every runtime on one core in a fresh
    process (``_measure_on_one_core``)."""
    import tensorflow as tf

    onnx_path = convert_to_onnx(tf.saved_model.load(str(version_dir)), workdir / "net.onnx")
    args = [str(version_dir), str(bf16_version_dir), str(onnx_path)]
    args += ["--min-seconds", str(min_seconds)]
    args += ["--batch-sizes", ",".join(map(str, batch_sizes))]
    return [PeerResult(**row) for row in run_json("tests.benchmarks.bench_peers", args)]


def _measure_on_one_core(
    version_dir: Path,
    bf16_version_dir: Path,
    onnx_path: Path,
    batch_sizes: Sequence[int],
    min_seconds: float,
) -> list[PeerResult]:
    """Every runtime at every batch size, interleaved (``interleaved_rates``, CPU time);
    logit differences against TF on the same uniform [-1, 1] pixels."""
    import tensorflow as tf

    one_thread_tensorflow()
    runtimes = _runtime_calls(
        tf.saved_model.load(str(version_dir)), tf.saved_model.load(str(bf16_version_dir)), onnx_path
    )
    rng = np.random.default_rng(0)
    inputs = {b: rng.uniform(-1, 1, (b, 224, 224, 3)).astype(np.float32) for b in batch_sizes}
    calls = {
        (name, b): (functools.partial(run, inputs[b]), b)
        for b in batch_sizes
        for name, (run, _) in runtimes.items()
    }
    # One core does a round of 21 calls in ~15 CPU-s: few rounds, the median of 3 timed.
    rates = interleaved_rates(
        calls, min_seconds=min_seconds, min_calls=3, warmup_calls=1, clock=cpu_clock
    )
    # The differences do not depend on the batch size; the middle one keeps this cheap.
    pixels = inputs[sorted(batch_sizes)[len(batch_sizes) // 2]]
    reference = runtimes[TF][0](pixels)
    differences = {
        name: float(np.abs(np.asarray(run(pixels)) - reference).max())
        for name, (run, _) in runtimes.items()
    }
    return [
        PeerResult(name, b, rates[(name, b)], differences[name], note)
        for b in batch_sizes
        for name, (_, note) in runtimes.items()
    ]


def peer_rows(results: Sequence[PeerResult]) -> list[BenchRow]:
    """Each runtime's images/s at each batch size, its ratio to TF in the same run (target:
    no float32 runtime faster than the export as served, i.e. ratio <= 1; a MISS names a
    faster one) and its largest logit difference from TF."""
    tf_rate = {r.batch_size: r.images_per_s for r in results if r.runtime == TF}
    rows = []
    for r in results:
        name = f"{r.runtime} b{r.batch_size}"
        rows.append(BenchRow(SECTION, name, r.images_per_s, "images/s", note=r.note))
        if r.runtime == TF:
            continue
        ratio = r.images_per_s / tf_rate[r.batch_size]
        fp32 = r.runtime not in REDUCED_PRECISION
        target, passed = at_most(ratio, 1.0) if fp32 else (None, None)
        rows.append(BenchRow(SECTION, f"{name} / TF", ratio, "x", target, passed))
        target, passed = (
            at_most(r.max_abs_logit_diff, FP32_LOGIT_TOLERANCE) if fp32 else (None, None)
        )
        rows.append(
            BenchRow(
                SECTION, f"{name} max |logit - TF|", r.max_abs_logit_diff, "logit", target, passed
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("version_dir", type=Path, help="an fp32 folded export, MODEL_DIR/N")
    parser.add_argument("bf16_version_dir", type=Path, help="a bf16 folded export")
    parser.add_argument("onnx", type=Path, nargs="?", help="its ONNX conversion (else made)")
    parser.add_argument("--min-seconds", type=float, default=30.0)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--json", action="store_true", help="print JSON rows only")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.onnx is None:  # run alone: convert, then measure in a pinned child process
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            results = measure_peers(
                args.version_dir, args.bf16_version_dir, Path(tmp), batch_sizes, args.min_seconds
            )
    else:
        pin_to_one_core()
        results = _measure_on_one_core(
            args.version_dir, args.bf16_version_dir, args.onnx, batch_sizes, args.min_seconds
        )
    if args.json:
        print(json.dumps([asdict(r) for r in results]))
    else:
        for r in results:
            print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
