"""The one server-process helper (``inception_svm_serving.process``): a start that fails
says why, within its deadline, and leaves no process behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from inception_svm_serving.process import ServerProcess, ServerStartError, stand_in_command
from tests.harness import MODEL_NAME, REPO_ROOT, subprocess_env


def _server(tmp_path: Path, flags: list[str], timeout_s: float) -> ServerProcess:
    return ServerProcess(
        stand_in_command([f"--model_name={MODEL_NAME}", *flags]),
        log_path=tmp_path / "server.log",
        env=subprocess_env(),
        cwd=REPO_ROOT,
        ready_timeout_s=timeout_s,
    )


def test_a_server_that_exits_is_reported_with_its_exit_code_and_log(tmp_path: Path) -> None:
    """An exit is reported as such (the flags are refused in well under a second), not
    waited out until the deadline."""
    server = _server(tmp_path, [f"--model_base_path={tmp_path}", "--no_such_flag"], 60)
    with pytest.raises(ServerStartError) as raised, server:
        pytest.fail("a server refusing its flags must not become ready")
    message = str(raised.value)
    assert "exited with code 2" in message
    assert "--no_such_flag" in message  # the stand-in's own complaint, from the log tail


def test_a_server_never_ready_fails_at_the_deadline_with_its_answer_and_is_stopped(
    tmp_path: Path,
) -> None:
    server = _server(tmp_path, [f"--model_base_path={tmp_path / 'no-such-model'}"], 15)
    with pytest.raises(ServerStartError) as raised, server:
        pytest.fail("a server without a model must not become ready")
    message = str(raised.value)
    assert "not ready after 15 s" in message and repr(MODEL_NAME) in message
    assert server.process is not None and server.process.poll() is not None, "left running"
