"""Measuring work per CPU core on a machine other jobs share.

On the shared 2-core box, wall-clock rates swing with whatever else runs (we saw the load
average at 11-14 while benchmarking). A measurement pinned to one core, with every thread
pool at one thread, and timed in CPU seconds of the process (``time.process_time``) counts
only the work done, however often the scheduler lets other jobs in: images per CPU-second is
images/s per core. Thread pools and affinity must be set before TensorFlow starts, so such a
measurement runs in its own process: ``run_json`` starts a module's ``--json`` mode there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# The CPU clock for interleaved_rates in a process pinned by pin_to_one_core.
cpu_clock = time.process_time


def pin_to_one_core() -> int:
    """Pin this process (and the threads it starts later) to its lowest allowed CPU."""
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def one_thread_tensorflow() -> None:
    """TF's intra- and inter-op pools at one thread; call before TF runs any op."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def run_json(module: str, args: Sequence[str], timeout_s: float = 600) -> Any:
    """``python -m module --json args...`` in a fresh process; its stdout parsed as JSON."""
    command = [sys.executable, "-m", module, "--json", *args]
    output = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=timeout_s
    )
    if output.returncode != 0:
        raise RuntimeError(f"{module} failed: {output.stderr[-2000:]}")
    return json.loads(output.stdout)
