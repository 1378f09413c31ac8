"""AsyncFeaturizer under the faults test_faults.py puts the thread-based client through:
a SIGKILL + restart mid-stream (nothing lost, nothing out of order, no error for a good
image) and a server that never comes back (every input one record within the budget).

One server process serves both scenarios (a start costs seconds of TF loading): it is
restarted once mid-stream, then killed for good.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from inception_svm_client import AsyncFeaturizer, FeatureResult
from inception_svm_client.featurizer_config import ChannelConfig, FeaturizerConfig, RetryPolicy
from inception_svm_client.inputs import path_inputs
from tests.harness import ServerHandle, restartable_server
from tests.paths import car_photos
from tests.reliability.stream import audit, make_stream

STREAM_LENGTH = 96
NEVER_BACK_BUDGET_S = 3.0


async def _restarted_mid_stream(
    server: ServerHandle, keys: list[str]
) -> tuple[list[FeatureResult], int]:
    """Stream with the DEFAULT retry policy; the kill and the restart happen on the loop's
    worker threads while the stream keeps being consumed."""
    config = FeaturizerConfig(batch_size=16, max_in_flight=2)
    results: list[FeatureResult] = []
    restart: asyncio.Future[None] | None = None
    results_at_kill = -1

    def kill_and_restart() -> None:
        server.kill()
        server.start()
        server.wait_ready()

    async with AsyncFeaturizer.connect(
        ChannelConfig(target=server.grpc_target), config
    ) as featurizer:
        async for result in featurizer.featurize(path_inputs(keys)):
            results.append(result)
            if len(results) == STREAM_LENGTH // 5:
                results_at_kill = len(results)
                restart = asyncio.ensure_future(asyncio.to_thread(kill_and_restart))
    assert restart is not None
    await restart
    return results, results_at_kill


async def _never_back(server: ServerHandle, keys: list[str]) -> list[FeatureResult]:
    policy = RetryPolicy(budget_s=NEVER_BACK_BUDGET_S)
    config = FeaturizerConfig(batch_size=8, max_in_flight=2, retry=policy)
    results: list[FeatureResult] = []
    async with AsyncFeaturizer.connect(
        ChannelConfig(target=server.grpc_target), config
    ) as featurizer:
        async for result in featurizer.featurize(path_inputs(keys)):
            results.append(result)
            if len(results) == 8:
                await asyncio.to_thread(server.kill)
    return results


def test_restart_mid_stream_loses_nothing_and_a_server_never_back_ends_in_the_budget(
    model_base_path: Path, tmp_path: Path
) -> None:
    paths = make_stream(tmp_path / "stream", car_photos(), STREAM_LENGTH)
    keys = [str(p) for p in paths]
    with restartable_server(model_base_path) as server:
        server.start()
        server.wait_ready()
        results, results_at_kill = asyncio.run(_restarted_mid_stream(server, keys))
        assert server.starts == 2
        outcome = audit(keys, results)
        print(f"[reliability] async sigkill+restart: {outcome}, results_at_kill={results_at_kill}")
        assert 0 < results_at_kill < STREAM_LENGTH, "the kill must hit the stream"
        assert outcome.lost == 0 and outcome.duplicated == 0 and not outcome.out_of_order
        assert outcome.errors == []

        gone_keys = keys[:48]
        began = time.monotonic()
        gone = asyncio.run(_never_back(server, gone_keys))
        elapsed_s = time.monotonic() - began
    outcome = audit(gone_keys, gone)
    codes = {r.code for r in gone}
    print(f"[reliability] async server never back: codes={codes}, elapsed_s={elapsed_s:.1f}")
    assert outcome.lost == 0 and outcome.duplicated == 0 and not outcome.out_of_order
    assert "RETRY_BUDGET_EXHAUSTED" in codes and codes <= {None, "RETRY_BUDGET_EXHAUSTED"}
    # The budget plus a bound for busy shared cores; never a per-batch deadline each.
    assert elapsed_s < NEVER_BACK_BUDGET_S + 20, elapsed_s
