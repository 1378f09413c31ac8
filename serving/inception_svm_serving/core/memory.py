"""Handing freed memory back to the operating system after large requests, without making
steady traffic pay for it.

Three parts. (1) TensorFlow's oneDNN build allocates every tensor over 4 KB from a BFC pool
("mklcpu") that grows to the largest working set ever seen and never shrinks: one 8192²
image (1.6 GB while decoded) leaves the process at +1.6 GB for good.
``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1`` makes it use malloc instead (oneDNN kernels unchanged);
it must be set before TensorFlow is imported. (2) With glibc's defaults that cost 12-40 % of
served throughput at batch 32 on an AMD EPYC Zen 4 (issue 26): every call faulted its
activations in afresh (~70,000 page faults per call), because blocks over 32 MiB are mapped
and unmapped per allocation, thread arenas unmap what they free, and the heap was trimmed
after busy traffic. So the server keeps a *warm heap* (``keep_heap_warm``: one arena, no
per-block mapping, no trim on free), and (3) ``HeapTrimmer`` runs ``malloc_trim(0)`` only
once the server has gone quiet after large work. Measured with
``python -m tests.benchmarks.bench_allocator`` (docs/performance.md): served/in-process at
batch 32 back at the pool's, and RSS back near its baseline after an 8192² request.

An explicit setting in the environment wins: ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=0`` (the pool,
TF Serving's behaviour) or any glibc heap variable (``GLIBC_HEAP_ENV``). Elsewhere than glibc
the warm heap and the trim are no-ops.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping

from inception_svm_serving.observability.logs import log_event

SYSTEM_ALLOCATOR_ENV = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"
DEFAULT_SYSTEM_ALLOCATOR = "1"
# Any of these in the environment is an explicit glibc heap setting: the server keeps it.
GLIBC_HEAP_ENV = (
    "GLIBC_TUNABLES",
    "MALLOC_ARENA_MAX",
    "MALLOC_MMAP_MAX_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
)
# mallopt parameters (glibc's malloc.h) and the values of the warm heap.
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
_WARM_HEAP = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1))
WARM_HEAP_DESCRIPTION = "glibc heap kept warm (1 arena, no mmap, no trim on free)"


def prefer_system_allocator() -> None:
    """Before TensorFlow is imported and before any thread starts: allocate tensors with
    malloc, not a never-shrinking pool, from a heap that keeps its pages between requests
    (an explicit setting in the environment wins)."""
    os.environ.setdefault(SYSTEM_ALLOCATOR_ENV, DEFAULT_SYSTEM_ALLOCATOR)
    if _wants_warm_heap(os.environ):
        keep_heap_warm()


def _wants_warm_heap(env: Mapping[str, str]) -> bool:
    system = env.get(SYSTEM_ALLOCATOR_ENV, DEFAULT_SYSTEM_ALLOCATOR) == "1"
    return system and not any(name in env for name in GLIBC_HEAP_ENV)


def keep_heap_warm() -> bool:
    """glibc serves every block from one heap that it never shrinks on free, so the next
    request reuses mapped pages; ``HeapTrimmer`` gives them back when the server goes quiet.

    With glibc's defaults a batch of 32 faults in ~280 MB of fresh pages per call (its
    activations exceed the 32 MiB most a block can be before glibc maps it on its own, and
    blocks freed in a thread's arena are unmapped again): served/in-process 0.60 against
    0.96 warm at batch 32 on an AMD EPYC Zen 4 (issue 26). One arena matters as much as no
    mmap: a block above 64 MiB does not fit a thread arena's heap. Must run before a second
    thread allocates (glibc fixes the arena limit then). False where the C library is not
    glibc."""
    library = _glibc()
    if library is None:
        return False
    return all(library.mallopt(parameter, value) == 1 for parameter, value in _WARM_HEAP)


def allocator_setting(environ: Mapping[str, str] | None = None) -> str:
    """The allocator a server started with ``environ`` (default: this process's) uses, as
    the benchmark table and the docs name it."""
    env = os.environ if environ is None else environ
    setting = f"{SYSTEM_ALLOCATOR_ENV}={env.get(SYSTEM_ALLOCATOR_ENV, DEFAULT_SYSTEM_ALLOCATOR)}"
    return f"{setting}, {WARM_HEAP_DESCRIPTION}" if _wants_warm_heap(env) else setting


def _glibc() -> ctypes.CDLL | None:
    """The C library, where it is glibc (the only one with ``mallopt``/``malloc_trim``)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        library = ctypes.CDLL(name)
        library.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        library.mallopt.restype = ctypes.c_int
        library.malloc_trim.argtypes = [ctypes.c_size_t]
        library.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):  # not glibc
        return None
    return library


def _malloc_trim() -> Callable[[], object] | None:
    library = _glibc()
    return None if library is None else lambda: library.malloc_trim(0)


# How long the server must have had no admitted work in flight before an asked-for trim runs.
# Shorter than any pause a person would call idle; longer than the gap between a busy
# client's calls, which must keep finding their pages mapped.
TRIM_AFTER_QUIET_S = 1.0


class HeapTrimmer:
    """Hands the heap's free pages back once asked *and* the server has gone quiet.

    A trim unmaps every free page, and the next request faults them back in: at batch 32 the
    first call after a trim took 0.69 s against 0.59 s (AMD EPYC Zen 4, issue 26), paid on
    every call when trims followed busy traffic. So a trim waits until no admitted
    work has been in flight for ``quiet_s``: steady traffic keeps its warm working set (RSS
    stays at the in-flight peak that admission bounds anyway), and the memory of a large
    request comes back in the first pause after it. ``request()`` never blocks; trims asked
    for meanwhile coalesce into one."""

    def __init__(
        self,
        quiet_s: float = TRIM_AFTER_QUIET_S,
        trim: Callable[[], object] | None = None,
    ) -> None:
        self._trim = trim if trim is not None else _malloc_trim()
        self._quiet_s = quiet_s
        self._changed = threading.Condition()
        self._wanted = False
        self._in_flight = 0
        self._last_active = time.monotonic()
        if self._trim is not None:
            threading.Thread(target=self._loop, name="heap-trim", daemon=True).start()

    def request(self) -> None:
        with self._changed:
            self._wanted = True
            self._changed.notify_all()

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Around admitted work: no trim runs while it is in flight, nor ``quiet_s`` after."""
        with self._changed:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._last_active = time.monotonic()
                self._changed.notify_all()

    def _wait_until_wanted_and_quiet(self) -> None:
        with self._changed:
            while True:
                if not self._wanted or self._in_flight:
                    self._changed.wait()
                    continue
                remaining = self._last_active + self._quiet_s - time.monotonic()
                if remaining <= 0:
                    self._wanted = False
                    return
                self._changed.wait(remaining)

    def _loop(self) -> None:
        assert self._trim is not None
        while True:
            self._wait_until_wanted_and_quiet()
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


# A request message or body this large leaves its parse's memory in the heap whether it is
# served or refused (ordinary requests, a batch of JPEGs, are smaller).
TRIM_AFTER_MESSAGE_BYTES = 8 * 1024 * 1024


@contextlib.contextmanager
def trim_after_large_request(message_bytes: int) -> Iterator[None]:
    """Around one request's handling in a protocol layer: a request of
    ``TRIM_AFTER_MESSAGE_BYTES`` or more asks for a trim when it is done, however it ends."""
    try:
        yield
    finally:
        if message_bytes >= TRIM_AFTER_MESSAGE_BYTES:
            shared_trimmer().request()
