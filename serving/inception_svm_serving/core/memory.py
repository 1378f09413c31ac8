"""Handing freed memory back to the operating system after large requests.

Two layers keep it. (1) TensorFlow's oneDNN build allocates every tensor over 4 KB from a BFC
pool ("mklcpu") that grows to the largest working set ever seen and never shrinks: one
8192² image (1.6 GB while decoded) leaves the process at +1.6 GB for good. Measured here:
the issue's "0.9 -> 6.5 GB and not given back". ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1`` makes
it use malloc instead (oneDNN kernels unchanged); it must be set before TensorFlow is
imported. It is not free on every CPU: on an AMD EPYC (Zen 4) served/in-process at batch 32
fell from 0.93-0.96 with the pool to 0.66-0.88 with malloc (issue 26; docs/performance.md
has the table, measured with ``python -m tests.benchmarks.bench_allocator``). glibc tuning
(mmap/trim thresholds, fewer arenas) did not recover it, and capping the pool
(``TF_MKL_ALLOC_MAX_BYTES``) fails requests larger than the cap. It stays the default
because the memory bounds need it; set ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=0`` (TF Serving's
own default, the pool) where throughput matters more than giving memory back.
(2) glibc keeps freed blocks in its arenas; ``malloc_trim(0)`` returns their free pages. It
runs on its own thread, so no request waits for it; elsewhere than glibc it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable, Mapping

from inception_svm_serving.observability.logs import log_event

SYSTEM_ALLOCATOR_ENV = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"
DEFAULT_SYSTEM_ALLOCATOR = "1"


def prefer_system_allocator() -> None:
    """Before TensorFlow is imported: allocate tensors with malloc, not a never-shrinking
    pool (an explicit setting in the environment wins)."""
    os.environ.setdefault(SYSTEM_ALLOCATOR_ENV, DEFAULT_SYSTEM_ALLOCATOR)


def allocator_setting(environ: Mapping[str, str] | None = None) -> str:
    """The allocator a server started with ``environ`` (default: this process's) uses, as
    the benchmark table and the docs name it."""
    env = os.environ if environ is None else environ
    return f"{SYSTEM_ALLOCATOR_ENV}={env.get(SYSTEM_ALLOCATOR_ENV, DEFAULT_SYSTEM_ALLOCATOR)}"


def _malloc_trim() -> Callable[[], object] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class HeapTrimmer:
    """``request()`` is cheap and never blocks; trims coalesce while one is running."""

    def __init__(self) -> None:
        self._trim = _malloc_trim()
        self._wanted = threading.Event()
        if self._trim is not None:
            threading.Thread(target=self._loop, name="heap-trim", daemon=True).start()

    def request(self) -> None:
        self._wanted.set()

    def _loop(self) -> None:
        assert self._trim is not None
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                self._trim()
            except Exception as error:  # never worth a dead thread; RSS just stays higher
                log_event("heap_trim_failed", error=repr(error))


_shared: HeapTrimmer | None = None
_shared_lock = threading.Lock()


def shared_trimmer() -> HeapTrimmer:
    """The process's one trimmer: admission asks for a trim after large admitted work, the
    protocol layers after large requests that never reach admission (a body refused after
    parsing still left its parse's memory in the heap)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = HeapTrimmer()
        return _shared
