"""The one server-process helper (``inception_svm_serving.process``): a start that fails
says why, within its deadline, and leaves no process behind."""

from __future__ import annotations

import signal
import sys
import threading
import time
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


def _sleeper(tmp_path: Path) -> ServerProcess:
    """A stand-in for any server command: writes its pid and argv, then sleeps."""
    marker = tmp_path / "argv"
    script = (
        "import os, sys, time; "
        f"open({str(marker)!r}, 'w').write(repr((os.getpid(), sys.argv))); time.sleep(60)"
    )
    return ServerProcess([sys.executable, "-c", script, "--port=1"], log_path=tmp_path / "log")


def test_the_command_runs_unchanged_behind_the_parent_death_request(tmp_path: Path) -> None:
    """The request is made by a short-lived interpreter that then execs the command: the
    server keeps the pid that ``process`` names (signals reach it) and its own argv."""
    server = _sleeper(tmp_path)
    server.start()
    assert server.process is not None
    try:
        marker = tmp_path / "argv"
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text() == repr((server.process.pid, ["-c", "--port=1"]))
        assert server.running
    finally:
        server.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_server_is_terminated_when_the_thread_that_started_it_ends(tmp_path: Path) -> None:
    """``die_with_parent`` (the default): an interrupted parent leaves no server behind.
    Linux ties the signal to the starting thread, so a thread that ends stands in for a
    parent that dies, at once after ``start`` returns (no window before the request)."""
    server = _sleeper(tmp_path)
    starter = threading.Thread(target=server.start)
    starter.start()
    starter.join()
    assert server.process is not None
    try:
        assert server.process.wait(timeout=30) == -signal.SIGTERM
    finally:
        server.kill()


def test_a_command_that_cannot_run_is_reported_as_an_exit(tmp_path: Path) -> None:
    server = ServerProcess(["/no/such/server", "--port=1"], log_path=tmp_path / "server.log")
    with pytest.raises(ServerStartError) as raised, server:
        pytest.fail("a missing program must not become ready")
    assert "exited with code 1" in str(raised.value)
    assert "/no/such/server" in server.log_tail()
