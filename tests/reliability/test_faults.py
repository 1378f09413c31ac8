"""Faults between the Python API and the server: crash + restart, late start, slowness,
drops.

Each scenario streams real images through the real client (``Featurizer``) with its
DEFAULT retry policy (the same one ``classify`` uses; the CLI's own fault tests are in
test_classify_faults.py) against a real server process and audits the output: every input
exactly once, in input order, and no error record for a good image.
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

from inception_svm_client.errors import ClientError
from inception_svm_client.featurizer import FeatureResult, Featurizer
from inception_svm_client.featurizer_config import ChannelConfig, FeaturizerConfig, RetryPolicy
from inception_svm_client.inputs import path_inputs
from tests.harness import PRODUCTION_BATCHING_FLAGS, ServerHandle, restartable_server
from tests.paths import car_photos
from tests.reliability.proxy import TcpProxy
from tests.reliability.stream import audit, make_stream

STREAM_LENGTH = 500
DEFAULT_RETRY = RetryPolicy()


def _featurizer(target: str, retry: RetryPolicy, deadline_s: float = 30.0) -> Featurizer:
    config = FeaturizerConfig(batch_size=16, max_in_flight=2, deadline_s=deadline_s, retry=retry)
    return Featurizer.connect(ChannelConfig(target=target), config)


def _report(name: str, **figures: object) -> None:
    print(f"[reliability] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def test_sigkill_and_restart_mid_stream_loses_nothing(
    model_base_path: Path, tmp_path: Path
) -> None:
    paths = make_stream(tmp_path / "stream", car_photos(), STREAM_LENGTH)
    keys = [str(p) for p in paths]
    kill_after = STREAM_LENGTH // 5
    recovery: dict[str, float] = {}
    results: list[FeatureResult] = []
    with restartable_server(model_base_path, PRODUCTION_BATCHING_FLAGS) as server:
        server.start()
        server.wait_ready()

        def restart() -> None:
            server.kill()
            killed_at = time.monotonic()
            recovery["results_at_kill"] = len(results)
            server.start()
            server.wait_ready()
            recovery["restart_s"] = time.monotonic() - killed_at

        restarter = threading.Thread(target=restart)
        with _featurizer(server.grpc_target, DEFAULT_RETRY) as featurizer:
            for result in featurizer.featurize(path_inputs(keys)):
                results.append(result)
                if len(results) == kill_after:
                    restarter.start()
        restarter.join(timeout=180)
        outcome = audit(keys, results)
        _report(
            "sigkill+restart",
            inputs=outcome.inputs,
            outputs=outcome.outputs,
            lost=outcome.lost,
            duplicated=outcome.duplicated,
            errors=len(outcome.errors),
            server_starts=server.starts,
            results_at_kill=recovery.get("results_at_kill"),
            recovery_s=round(recovery.get("restart_s", -1), 1),
        )
        assert server.starts == 2
        assert recovery["results_at_kill"] < STREAM_LENGTH, "the kill must hit the stream"
    assert outcome.lost == 0 and outcome.duplicated == 0 and not outcome.out_of_order
    assert outcome.errors == []


def test_server_not_up_yet_client_waits_within_its_retry_budget(
    model_base_path: Path, tmp_path: Path
) -> None:
    paths = make_stream(tmp_path / "stream", car_photos(), 40)
    keys = [str(p) for p in paths]
    with restartable_server(model_base_path) as server:
        server.start()  # not waited for: the client starts while the model is still loading
        began = time.monotonic()
        with _featurizer(server.grpc_target, DEFAULT_RETRY) as featurizer:
            results = list(featurizer.featurize(path_inputs(keys)))
        _report("late server", inputs=len(keys), waited_s=round(time.monotonic() - began, 1))
    outcome = audit(keys, results)
    assert outcome.lost == 0 and not outcome.out_of_order and outcome.errors == []


def test_network_drops_through_a_proxy_lose_nothing(
    batching_server: ServerHandle, tmp_path: Path
) -> None:
    paths = make_stream(tmp_path / "stream", car_photos(), 150)
    keys = [str(p) for p in paths]
    host, port = batching_server.grpc_target.rsplit(":", 1)
    results: list[FeatureResult] = []
    with TcpProxy(host, int(port)) as proxy:
        with _featurizer(proxy.target, DEFAULT_RETRY) as featurizer:
            for result in featurizer.featurize(path_inputs(keys)):
                results.append(result)
                if len(results) in (30, 90):
                    proxy.cut_all()
                if len(results) == 60:
                    proxy.refuse(True)
                    proxy.cut_all()
                    threading.Timer(1.0, proxy.refuse, args=(False,)).start()
        cut = proxy.connections_cut
    outcome = audit(keys, results)
    _report("network drops", inputs=len(keys), connections_cut=cut, lost=outcome.lost)
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


def test_slow_server_deadlines_fire_and_retries_are_bounded(
    slow_server: tuple[str, _SlowPredictionService],
) -> None:
    target, service = slow_server
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05)
    photo = car_photos()[0].read_bytes()
    with (
        _featurizer(target, retry, deadline_s=0.3) as featurizer,
        pytest.raises(ClientError) as raised,
    ):
        featurizer.predict_with_retry([photo])
    _report("slow server", attempts=service.calls, code=raised.value.code)
    assert raised.value.code == "DEADLINE_EXCEEDED"
    assert service.calls == retry.max_attempts
