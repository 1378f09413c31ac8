"""The data plane on real components in-process: a real ModelManager over a real SavedModel.

A REST body can only be decoded against the signature it will run on, so the REST handler
opens ``DataPlane.predict_call``, decodes against ``call.signature`` and runs
``call.predict``; these tests hold that the version is pinned from the signature to the
outputs, even when a new version is published in between.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from inception_svm_client.contract import IMAGES_INPUT, LOGITS_OUTPUT, MODEL_NAME, NUM_CLASSES
from inception_svm_serving._exceptions import Code, as_serving_error
from inception_svm_serving.config.options import ModelConfig, RequestLimits
from inception_svm_serving.core.admission import Admission
from inception_svm_serving.core.data_plane import DataPlane, ModelRef
from inception_svm_serving.core.image_headers import encoded_image_sizes
from inception_svm_serving.core.model_manager import ModelManager
from inception_svm_serving.observability.metrics import ServerMetrics

SWAP_DEADLINE_S = 120


def _state(manager: ModelManager, version: int) -> str:
    return {s.version: s.state for s in manager.status(MODEL_NAME)}.get(version, "")


def test_predict_call_runs_on_the_version_it_resolved_while_a_new_one_is_published(
    model_base_path: Path, tmp_path: Path, jpeg_images: list[bytes]
) -> None:
    base = tmp_path / MODEL_NAME
    shutil.copytree(model_base_path / "1", base / "1")
    config = ModelConfig(name=MODEL_NAME, base_path=base)
    manager = ModelManager((config,), None, ServerMetrics(), warmup_iterations=0)
    manager.poll_once()
    plane = DataPlane(manager, Admission(RequestLimits(), encoded_image_sizes))
    ref = ModelRef(MODEL_NAME)
    inputs = {IMAGES_INPUT: np.array(jpeg_images[:1], dtype=object)}
    swap = threading.Thread(target=manager.poll_once, name="publish-v2")
    try:
        with plane.predict_call(ref) as call:
            signature = call.signature
            shutil.copytree(model_base_path / "1", base / "2")
            swap.start()  # loads 2, publishes it, then waits for this call to release 1
            deadline = time.monotonic() + SWAP_DEADLINE_S
            while _state(manager, 1) not in ("UNLOADING", "END"):  # no event: bounded poll
                alive = swap.is_alive() and time.monotonic() < deadline
                assert alive, f"version 1 never retired: {manager.status(MODEL_NAME)}"
                time.sleep(0.05)
            held = swap.is_alive() and _state(manager, 1) == "UNLOADING"
            assert held, f"version 1 unloaded while a call held it: {manager.status(MODEL_NAME)}"
            assert plane.predict(ref, inputs).version == 2  # a new call gets the new version
            pinned = call.predict(inputs)
        swap.join(timeout=SWAP_DEADLINE_S)
        assert not swap.is_alive()
        assert pinned.version == 1, "decoded against version 1's signature, run on another"
        assert pinned.signature_name == signature.name
        assert pinned.outputs[LOGITS_OUTPUT].shape == (1, NUM_CLASSES)
        assert _state(manager, 1) == "END"
        with pytest.raises(RuntimeError) as raised:
            call.predict(inputs)  # the servable it held may be gone: refused, not run
        assert as_serving_error(raised.value).code is Code.INTERNAL
    finally:
        if swap.is_alive():
            swap.join(timeout=SWAP_DEADLINE_S)
        manager.stop()
