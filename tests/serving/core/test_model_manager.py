"""A new version directory is picked up under continuous load with zero failed requests.

The new version is published the way a plain ``cp -r`` does it: the directory appears before
its saved_model.pb, so the first load fails and must be retried (--max_num_load_retries,
--load_retry_interval_micros) until the copy is complete, while version 1 keeps serving.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tests.harness import BATCHING_PARAMETERS, MODEL_NAME, running_server

SWAP_DEADLINE_S = 180
WORKERS = 3


def _states(channel: grpc.Channel) -> dict[int, int]:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL_NAME
    reply = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, timeout=30)
    return {s.version: s.state for s in reply.model_version_status}


def _failed_loads_of_version_2(metrics_text: str) -> int:
    """TF Serving's load_attempt_count{status="fail"} for the version 2 directory."""
    found = re.search(
        r'^:tensorflow:cc:saved_model:load_attempt_count\{model_path="[^"]*/2",status="fail"\}'
        r" ([0-9.e+]+)$",
        metrics_text,
        re.MULTILINE,
    )
    return int(float(found.group(1))) if found else 0


def _poll(check: Callable[[], bool], what: Callable[[], str], deadline: float) -> None:
    """For server-side transitions with no event to wait on: bounded, fails with context."""
    while not check():
        assert time.monotonic() < deadline, what()
        time.sleep(0.2)


def test_swap_to_new_version_under_load(
    model_base_path: Path, tmp_path: Path, jpeg_images: list[bytes]
) -> None:
    base = tmp_path / MODEL_NAME
    shutil.copytree(model_base_path / "1", base / "1")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL_NAME
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(jpeg_images[:1], dtype=tf.string))
    flags = [
        "--file_system_poll_wait_seconds=1",
        "--max_num_load_retries=600",
        "--load_retry_interval_micros=200000",
        "--enable_batching",
        f"--batching_parameters_file={BATCHING_PARAMETERS}",
    ]
    # Per worker, in its own (sequential) order: (when the request was sent, version served).
    served: list[list[tuple[float, int]]] = [[] for _ in range(WORKERS)]
    failures: list[str] = []
    progress = threading.Condition()
    stop = threading.Event()
    with running_server(base, extra_flags=flags) as server:
        channel = grpc.insecure_channel(server.grpc_target)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        def load(worker: int) -> None:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    version = stub.Predict(request, timeout=60).model_spec.version.value
                except grpc.RpcError as error:
                    failures.append(f"{error.code()}: {error.details()}")
                    continue
                with progress:
                    served[worker].append((sent, version))
                    progress.notify_all()

        workers = [threading.Thread(target=load, args=(i,)) for i in range(WORKERS)]
        for worker in workers:
            worker.start()
        try:
            deadline = time.monotonic() + SWAP_DEADLINE_S
            shutil.copytree(
                model_base_path / "1", base / "2", ignore=shutil.ignore_patterns("saved_model.pb")
            )
            _poll(
                lambda: _failed_loads_of_version_2(server.metrics_text()) > 0,
                lambda: f"no failed load of the incomplete copy:\n{server.log_tail()}",
                deadline,
            )
            assert _states(channel)[2] == get_model_status_pb2.ModelVersionStatus.LOADING
            graph_copied_at = time.monotonic()
            shutil.copy2(model_base_path / "1" / "saved_model.pb", base / "2" / "saved_model.pb")
            with progress:
                every_worker_on_v2 = progress.wait_for(
                    lambda: all(mine and mine[-1][1] == 2 for mine in served),
                    timeout=max(0.0, deadline - time.monotonic()),
                )
            assert every_worker_on_v2, f"no swap: {_states(channel)} {[m[-3:] for m in served]}"
            end_state = get_model_status_pb2.ModelVersionStatus.END
            _poll(
                lambda: _states(channel).get(1) == end_state,
                lambda: f"version 1 not unloaded: {_states(channel)}",
                deadline,
            )
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=120)
        states = _states(channel)
        channel.close()
    assert failures == []
    assert states[2] == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    for mine in served:
        versions = [version for _, version in mine]
        # Sequential calls of one caller never go back to version 1 once 2 has answered.
        assert versions == sorted(versions) and set(versions) == {1, 2}, versions
    before_graph = [version for mine in served for sent, version in mine if sent < graph_copied_at]
    # Version 1 kept answering while version 2 failed to load, and 2 answered nothing before
    # its graph existed.
    assert before_graph and set(before_graph) == {1}, before_graph
