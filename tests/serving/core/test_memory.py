"""Memory given back without costing steady traffic (issue 26): the heap trim waits for a
quiet server, and the warm heap keeps a batch's pages mapped between calls.

The trimmer is driven with a recording trim in place of ``malloc_trim`` (its timing is the
subject); the warm heap is checked on glibc itself, in a fresh interpreter, by counting the
page faults of a thread that allocates a batch-32-sized block again and again.
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from inception_svm_serving.config.options import RequestLimits
from inception_svm_serving.core.admission import Admission
from inception_svm_serving.core.image_headers import encoded_image_sizes
from inception_svm_serving.core.memory import (
    DEFAULT_SYSTEM_ALLOCATOR,
    SYSTEM_ALLOCATOR_ENV,
    WARM_HEAP_DESCRIPTION,
    HeapTrimmer,
    allocator_setting,
)

QUIET_S = 0.3


class Trims:
    def __init__(self) -> None:
        self.at: list[float] = []

    def __call__(self) -> None:
        self.at.append(time.monotonic())

    def wait_for(self, count: int, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.at) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.at) >= count, f"{len(self.at)} trims, expected {count}"


def test_a_trim_asked_for_while_idle_runs_after_the_quiet_period() -> None:
    trims = Trims()
    trimmer = HeapTrimmer(QUIET_S, trims)
    with trimmer.working():
        pass
    asked = time.monotonic()
    trimmer.request()
    trims.wait_for(1)
    assert trims.at[0] - asked >= QUIET_S * 0.9


def test_no_trim_while_work_is_in_flight_nor_right_after_it() -> None:
    """The point of the design: busy traffic keeps its pages. A trim asked for during a
    long request waits for it, then for the quiet period."""
    trims = Trims()
    trimmer = HeapTrimmer(QUIET_S, trims)
    with trimmer.working():
        trimmer.request()
        time.sleep(3 * QUIET_S)
        assert trims.at == []
        left = time.monotonic()
    trims.wait_for(1)
    assert trims.at[0] - left >= QUIET_S * 0.9


def test_back_to_back_work_postpones_the_trim_and_requests_coalesce() -> None:
    trims = Trims()
    trimmer = HeapTrimmer(QUIET_S, trims)
    busy_until = time.monotonic() + 4 * QUIET_S
    while time.monotonic() < busy_until:  # calls with gaps shorter than the quiet period
        with trimmer.working():
            trimmer.request()
            time.sleep(0.02)
        time.sleep(QUIET_S / 5)
    assert trims.at == []
    trims.wait_for(1)
    time.sleep(2 * QUIET_S)
    assert len(trims.at) == 1, "the requests made meanwhile are one trim"


def test_a_failing_trim_does_not_end_the_trimmer() -> None:
    calls: list[float] = []

    def trim() -> None:
        calls.append(time.monotonic())
        raise OSError("no such thing")

    trimmer = HeapTrimmer(0.01, trim)
    for expected in (1, 2):
        trimmer.request()
        deadline = time.monotonic() + 10
        while len(calls) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(calls) == 2


def test_admission_asks_for_a_trim_after_large_work_and_holds_it_off_meanwhile() -> None:
    trims = Trims()
    trimmer = HeapTrimmer(QUIET_S, trims)
    admission = Admission(RequestLimits(), encoded_image_sizes, trimmer)
    # 300 one-pixel images: over the image count that asks for a trim (256).
    large = {"images": _tiny_pngs(300)}
    with admission.admit(large):
        time.sleep(2 * QUIET_S)
        assert trims.at == []
    trims.wait_for(1)


def _tiny_pngs(count: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    return np.array([buffer.getvalue()] * count, dtype=object)


def test_the_setting_names_the_warm_heap_only_where_it_applies() -> None:
    assert DEFAULT_SYSTEM_ALLOCATOR == "1"
    assert allocator_setting({}) == f"{SYSTEM_ALLOCATOR_ENV}=1, {WARM_HEAP_DESCRIPTION}"
    assert allocator_setting({SYSTEM_ALLOCATOR_ENV: "0"}) == f"{SYSTEM_ALLOCATOR_ENV}=0"
    explicit = {SYSTEM_ALLOCATOR_ENV: "1", "MALLOC_ARENA_MAX": "4"}
    assert allocator_setting(explicit) == f"{SYSTEM_ALLOCATOR_ENV}=1"


# A thread (so a thread arena, as TF's op threads) allocates, touches and frees 100 MiB three
# times; prints the page faults of each round.
_FAULTS_PROBE = """
import ctypes, resource, sys, threading
from inception_svm_serving.core.memory import prefer_system_allocator
prefer_system_allocator()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 100 << 20
faults = []
def work():
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
thread = threading.Thread(target=work)
thread.start()
thread.join()
print(*faults)
"""


def _probe_faults(env: dict[str, str]) -> list[int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    clean.pop(SYSTEM_ALLOCATOR_ENV, None)
    result = subprocess.run(
        [sys.executable, "-c", _FAULTS_PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [int(n) for n in result.stdout.split()]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_warm_heap_keeps_a_large_block_mapped_between_requests() -> None:
    """100 MiB is one batch-32 activation (32x112x112x64 floats): with glibc's defaults
    every allocation maps and faults it in again (25,600 pages); the warm heap only once.
    An explicit glibc setting in the environment is left alone."""
    pages = (100 << 20) // os.sysconf("SC_PAGE_SIZE")
    first, *again = _probe_faults({})
    assert first >= pages // 2 and max(again) < pages // 20, (first, again)
    explicit = _probe_faults({"MALLOC_ARENA_MAX": "8"})
    assert min(explicit) >= pages // 2, explicit
    pool = _probe_faults({SYSTEM_ALLOCATOR_ENV: "0"})
    assert min(pool) >= pages // 2, pool
