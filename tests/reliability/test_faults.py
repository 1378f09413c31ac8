"""Faults between the Python API and the server: late start, crash + restart, a server that
never comes back, network drops, slowness.

Each scenario runs against both clients (``Featurizer`` and ``AsyncFeaturizer``, see
tests/client/featurizer_clients.py), streams real images with the DEFAULT retry policy (the
same one ``classify`` uses; the CLI's own fault tests are in test_classify_faults.py) against
a real server process and audits the output: every input exactly once, in input order, and
no error record for a good image.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from inception_svm_client.config import ChannelConfig, FeaturizerConfig, RetryPolicy
from inception_svm_client.exceptions import ClientError
from inception_svm_client.inputs import path_inputs
from tests.client.featurizer_clients import FeaturizerClient, both_clients
from tests.harness import PRODUCTION_BATCHING_FLAGS, ServerHandle, restartable_server
from tests.paths import car_photos
from tests.reliability.proxy import TcpProxy
from tests.reliability.stream import audit, car_stream

STREAM_LENGTH = 120
NEVER_BACK_BUDGET_S = 3.0
DEFAULT_RETRY = RetryPolicy()


def _config(retry: RetryPolicy = DEFAULT_RETRY, deadline_s: float = 30.0) -> FeaturizerConfig:
    return FeaturizerConfig(batch_size=16, max_in_flight=2, deadline_s=deadline_s, retry=retry)


def _report(name: str, **figures: object) -> None:
    print(f"[reliability] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@both_clients
def test_late_start_sigkill_and_restart_then_never_back(
    client: FeaturizerClient, model_base_path: Path, tmp_path: Path
) -> None:
    """One server process per client (a start costs seconds of TF loading) goes through
    three faults in turn: the client starts while the model is still loading and waits
    within its budget; a SIGKILL + restart mid-stream loses nothing; a server killed for good
    ends a stream with one record per input within the budget, not a deadline per batch."""
    keys = car_stream(tmp_path / "stream", STREAM_LENGTH)
    consumed = 0
    recovery: dict[str, float] = {}
    with restartable_server(model_base_path, PRODUCTION_BATCHING_FLAGS) as server:
        channel = ChannelConfig(target=server.grpc_target)

        def restart() -> None:
            server.kill()
            killed_at = time.monotonic()
            recovery["results_at_kill"] = consumed
            server.start()
            server.wait_ready()
            recovery["restart_s"] = time.monotonic() - killed_at

        restarter = threading.Thread(target=restart)

        def kill_mid_stream(count: int) -> None:
            nonlocal consumed
            consumed = count
            if count == STREAM_LENGTH // 5:
                restarter.start()

        server.start()  # not waited for: the client starts while the model is still loading
        began = time.monotonic()
        results = client.featurize(channel, path_inputs(keys), _config(), on_result=kill_mid_stream)
        restarter.join(timeout=180)
        outcome = audit(keys, results)
        _report(
            f"{client} late start + sigkill/restart",
            inputs=outcome.inputs,
            outputs=outcome.outputs,
            lost=outcome.lost,
            duplicated=outcome.duplicated,
            errors=len(outcome.errors),
            server_starts=server.starts,
            results_at_kill=recovery.get("results_at_kill"),
            recovery_s=round(recovery.get("restart_s", -1), 1),
            stream_s=round(time.monotonic() - began, 1),
        )
        assert server.starts == 2
        assert recovery["results_at_kill"] < STREAM_LENGTH, "the kill must hit the stream"
        assert outcome.lost == 0 and outcome.duplicated == 0 and not outcome.out_of_order
        assert outcome.errors == []

        def kill_for_good(count: int) -> None:
            if count == 8:
                server.kill()

        gone_keys = keys[:48]
        policy = RetryPolicy(budget_s=NEVER_BACK_BUDGET_S)
        config = FeaturizerConfig(batch_size=8, max_in_flight=2, retry=policy)
        began = time.monotonic()
        gone = client.featurize(channel, path_inputs(gone_keys), config, on_result=kill_for_good)
        elapsed_s = time.monotonic() - began
    outcome = audit(gone_keys, gone)
    codes = {r.code for r in gone}
    _report(f"{client} server never back", codes=codes, elapsed_s=round(elapsed_s, 1))
    assert outcome.lost == 0 and outcome.duplicated == 0 and not outcome.out_of_order
    assert "RETRY_BUDGET_EXHAUSTED" in codes and codes <= {None, "RETRY_BUDGET_EXHAUSTED"}
    # The budget plus a bound for busy shared cores; never a per-batch deadline each.
    assert elapsed_s < NEVER_BACK_BUDGET_S + 20, elapsed_s


@both_clients
def test_network_drops_through_a_proxy_lose_nothing(
    client: FeaturizerClient, batching_server: ServerHandle, tmp_path: Path
) -> None:
    keys = car_stream(tmp_path / "stream", STREAM_LENGTH)
    host, port = batching_server.grpc_target.rsplit(":", 1)

    with TcpProxy(host, int(port)) as proxy:

        def drop(count: int) -> None:
            if count in (30, 90):
                proxy.cut_all()
            if count == 60:
                proxy.refuse(True)
                proxy.cut_all()
                threading.Timer(1.0, proxy.refuse, args=(False,)).start()

        channel = ChannelConfig(target=proxy.target)
        results = client.featurize(channel, path_inputs(keys), _config(), on_result=drop)
        cut = proxy.connections_cut
    outcome = audit(keys, results)
    _report(f"{client} network drops", inputs=len(keys), connections_cut=cut, lost=outcome.lost)
    assert cut >= 2, "the proxy must actually have cut live connections"
    assert outcome.lost == 0 and outcome.duplicated == 0 and not outcome.out_of_order
    assert outcome.errors == []


class _SlowPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Answers nothing before ``delay_s``: a server stuck in GC, swap or a long batch."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self._lock = threading.Lock()

    def Predict(
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay_s)
        return predict_pb2.PredictResponse()


@pytest.fixture
def slow_server() -> Iterator[tuple[str, _SlowPredictionService]]:
    service = _SlowPredictionService(delay_s=2.0)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", service
    finally:
        server.stop(grace=None)


@both_clients
def test_slow_server_deadlines_fire_and_retries_are_bounded(
    client: FeaturizerClient, slow_server: tuple[str, _SlowPredictionService]
) -> None:
    target, service = slow_server
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05)
    photo = car_photos()[0].read_bytes()
    with pytest.raises(ClientError) as raised:
        client.predict_with_retry(
            ChannelConfig(target=target), _config(retry, deadline_s=0.3), [photo]
        )
    _report(f"{client} slow server", attempts=service.calls, code=raised.value.code)
    assert raised.value.code == "DEADLINE_EXCEEDED"
    assert service.calls == retry.max_attempts
