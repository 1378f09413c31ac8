"""A model that cannot load at start ends the server the way tensorflow_model_server ends:
retried --max_num_load_retries times, then "Failed to start server. Error: ..." naming the
servable and the cause, and exit status 255 (main.cc ``return -1``), which the process helper
(serving/inception_svm_serving/process.py) puts first in its ServerStartError.

Real stand-in processes on the real SavedModel of ``model_base_path``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from inception_svm_export.warmup import write_warmup_requests
from inception_svm_serving._exceptions import ServerStartError
from inception_svm_serving.process import START_FAILURE_PREFIX
from tests.harness import BATCHING_PARAMETERS, MODEL_NAME, running_server

STARTUP_TIMEOUT_S = 240


def _events(log: str, name: str) -> list[dict[str, object]]:
    events = []
    for line in log.splitlines():
        if line.startswith("{") and f'"event": "{name}"' in line:
            events.append(json.loads(line))
    return events


def _start_failure(base: Path, flags: list[str], tmp_path: Path) -> tuple[str, str]:
    """(the ServerStartError text, the whole server log) of a start that must fail."""
    with (
        pytest.raises(ServerStartError) as raised,
        running_server(base, extra_flags=flags, startup_timeout_s=STARTUP_TIMEOUT_S),
    ):
        pass
    message = str(raised.value)
    match = re.search(r"log \((\S+)\) tail", message)
    assert match, message
    return message, Path(match.group(1)).read_text()


def test_batching_rule_failure_is_retried_then_ends_the_server(
    model_base_path: Path, tmp_path: Path
) -> None:
    """WrapSessionForBatchingConfigError as the model server reports it at startup: the
    shipped CPU file before the fix (last allowed size 8, max_batch_size 64)."""
    old_file = tmp_path / "batching_parameters.txt"
    old_file.write_text(BATCHING_PARAMETERS.read_text().replace("allowed_batch_sizes: 64\n", ""))
    flags = [
        "--enable_batching=true",
        f"--batching_parameters_file={old_file}",
        "--max_num_load_retries=1",
        "--load_retry_interval_micros=200000",
    ]
    message, log = _start_failure(model_base_path, flags, tmp_path)
    expected = (
        f"{START_FAILURE_PREFIX}UNKNOWN: 1 servable(s) did not become available: "
        f"{{{{{{name: {MODEL_NAME} version: 1}} due to error: INVALID_ARGUMENT: Last entry in "
        "allowed_batch_sizes must match max_batch_size; last entry was 8; expected 64}, }"
    )
    assert message.splitlines()[0] == expected  # the server's own line, first
    assert "exited with code 255" in message
    assert expected in log.splitlines()
    attempts = [e["attempt"] for e in _events(log, "model_loading")]
    assert attempts == [1, 2]  # 1 + --max_num_load_retries tries
    (failed,) = _events(log, "model_load_failed")
    assert failed["attempts"] == 2


def test_warmup_over_max_batch_size_fails_the_load(model_base_path: Path, tmp_path: Path) -> None:
    """saved_model_warmup_util.cc runs each record through the batching session: a record of
    128 images against max_batch_size 64 fails the load (the exporter Job's GPU-only warmup
    against the CPU overlay, before the fix). --max_num_load_retries=0: one try."""
    base = tmp_path / MODEL_NAME
    shutil.copytree(model_base_path / "1", base / "1")
    write_warmup_requests(
        base / "1" / "assets.extra",
        signature_name="serving_default",
        input_key="images",
        batch_sizes=(8, 128),
    )
    flags = [
        "--enable_batching=true",
        f"--batching_parameters_file={BATCHING_PARAMETERS}",
        "--max_num_load_retries=0",
    ]
    message, log = _start_failure(base, flags, tmp_path)
    assert message.splitlines()[0].startswith(
        f"{START_FAILURE_PREFIX}UNKNOWN: 1 servable(s) did not become available: "
        f"{{{{{{name: {MODEL_NAME} version: 1}} due to error: INVALID_ARGUMENT: "
    )
    assert "Task size 128 is larger than maximum input batch size 64" in message.splitlines()[0]
    assert [e["attempt"] for e in _events(log, "model_loading")] == [1]
    assert _events(log, "serving") == []  # never reported SERVING
