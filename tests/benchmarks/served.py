"""Sections 2 and 3: the same model through the stand-in over gRPC, driven by the loadtest runner.

The runner is the one users run (``inception-svm loadtest``), so these numbers are the
ones a user reproduces against any TF Serving, real or stand-in.
"""

from __future__ import annotations

from collections.abc import Sequence

from inception_svm_client.config import ChannelConfig
from inception_svm_client.loadtest.config import LoadTestConfig
from inception_svm_client.loadtest.runner import run_load_test
from inception_svm_client.loadtest.stats import RunSummary
from tests.harness import BATCHING_PARAMETERS

BATCHING_FLAGS = ("--enable_batching=true", f"--batching_parameters_file={BATCHING_PARAMETERS}")


def prime(target: str, images: Sequence[bytes], *, batch_size: int, concurrency: int) -> None:
    """Send a few rounds first, untimed: a server's first calls at a new batch shape trace
    and compile, which can outlast a short warm-up window and leave nothing measured."""
    config = LoadTestConfig(
        channel=ChannelConfig(target=target),
        images=tuple(images),
        batch_size=batch_size,
        concurrency=concurrency,
        requests=2 * concurrency,
        deadline_s=120.0,
    )
    run_load_test(config)


def closed_loop(
    target: str,
    images: Sequence[bytes],
    *,
    batch_size: int,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
) -> RunSummary:
    """One primed closed-loop run; raises when any request failed, since then figures lie."""
    prime(target, images, batch_size=batch_size, concurrency=concurrency)
    config = LoadTestConfig(
        channel=ChannelConfig(target=target),
        images=tuple(images),
        batch_size=batch_size,
        concurrency=concurrency,
        warmup_s=warmup_s,
        duration_s=duration_s,
        deadline_s=60.0,
    )
    summary = run_load_test(config).summary
    if summary.errors or summary.requests_ok == 0:
        raise RuntimeError(
            f"benchmark run against {target} had errors {summary.errors} "
            f"({summary.requests_ok} ok): fix the server before reading its numbers"
        )
    return summary
