"""A new version directory is picked up under continuous load with zero failed requests.

The new version is published the way a plain ``cp -r`` does it: the directory appears before
its saved_model.pb, so the first load fails and must be retried (--max_num_load_retries,
--load_retry_interval_micros) until the copy is complete, while version 1 keeps serving.
"""

from __future__ import annotations

import shutil
import threading
import time
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


def _states(channel: grpc.Channel) -> dict[int, int]:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL_NAME
    reply = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, timeout=30)
    return {s.version: s.state for s in reply.model_version_status}


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
    versions: list[int] = []
    failures: list[str] = []
    stop = threading.Event()
    with running_server(base, extra_flags=flags) as server:
        channel = grpc.insecure_channel(server.grpc_target)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        def load() -> None:
            while not stop.is_set():
                try:
                    versions.append(stub.Predict(request, timeout=60).model_spec.version.value)
                except grpc.RpcError as error:
                    failures.append(f"{error.code()}: {error.details()}")

        workers = [threading.Thread(target=load) for _ in range(3)]
        for worker in workers:
            worker.start()
        try:
            shutil.copytree(
                model_base_path / "1", base / "2", ignore=shutil.ignore_patterns("saved_model.pb")
            )
            deadline = time.monotonic() + SWAP_DEADLINE_S
            while '"model_load_retry"' not in server.log_tail():
                assert time.monotonic() < deadline, f"no load retry logged:\n{server.log_tail()}"
                time.sleep(0.2)
            assert _states(channel)[2] == get_model_status_pb2.ModelVersionStatus.LOADING
            shutil.copy2(model_base_path / "1" / "saved_model.pb", base / "2" / "saved_model.pb")
            end_state = get_model_status_pb2.ModelVersionStatus.END
            while _states(channel).get(1) != end_state or versions[-3:] != [2, 2, 2]:
                assert time.monotonic() < deadline, f"no swap: {_states(channel)} {versions[-5:]}"
                time.sleep(0.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=120)
        states = _states(channel)
        channel.close()
    assert failures == []
    assert states[2] == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    first_v2 = versions.index(2)
    assert set(versions[:first_v2]) == {1} and set(versions[first_v2:]) == {2}
