"""Faults during ``inception-svm classify`` with its DEFAULT settings: nothing is lost.

Each scenario runs the CLI as a user does (no retry flags; ``--batch-size 4`` only so a
short stream spans many requests) against real stand-in processes and audits the output
file: the multiset of record paths must equal the input list (exactly once), and the exit
code must say what happened. The only test that passes ``--retry-budget`` is the one
waiting for the budget to run out (the server never comes back): with the 120 s default
it would cost two minutes of suite time to prove the same thing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from inception_svm_client.config import FeaturizerConfig, ModelTarget, RetryPolicy
from inception_svm_client.exceptions import ClientError
from inception_svm_client.grpc._featurizer import Featurizer
from tests.harness import (
    MODEL_NAME,
    ServerHandle,
    restartable_server,
    running_server,
    subprocess_env,
)
from tests.paths import REPO_ROOT
from tests.reliability.classify_process import (
    ClassifyProcess,
    audit_records,
    read_records,
    report,
)
from tests.reliability.stream import car_stream

STREAM = 48
SMALL_BATCHES = ("--batch-size", "4")
# A restart as slow as a TF Serving pod's: dead for this long, then the model load.
RESTART_DELAY_S = 10
FREEZE_S = 20


@pytest.fixture(scope="module")
def restartable(model_base_path: Path) -> Iterator[ServerHandle]:
    with restartable_server(model_base_path) as server:
        server.start()
        server.wait_ready()
        yield server


def ensure_serving(server: ServerHandle) -> None:
    if server.process is None or server.process.poll() is not None:
        server.start()
    server.wait_ready()


def stream_of(tmp_path: Path, count: int = STREAM) -> tuple[Path, list[str]]:
    directory = tmp_path / "stream"
    return directory, car_stream(directory, count)


def start_classify(
    tmp_path: Path,
    name: str,
    source: Path,
    target: str,
    svm: Path,
    *extra: str,
    stdin: bool = False,
) -> ClassifyProcess:
    output = tmp_path / f"{name}.jsonl"
    args = [str(source), "--server", target, "--svm", str(svm), "--output", str(output)]
    return ClassifyProcess(output, *args, *SMALL_BATCHES, *extra, stdin=stdin)


def test_sigkill_and_slow_restart_loses_nothing(
    restartable: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    ensure_serving(restartable)
    source, keys = stream_of(tmp_path)
    run = start_classify(tmp_path, "restart", source, restartable.grpc_target, trained_svm)
    run.wait_for_lines(8)
    restartable.kill()
    time.sleep(RESTART_DELAY_S)
    restartable.start()
    code = run.wait()
    outcome = audit_records(keys, read_records(run.output))
    report("sigkill + restart after 10 s", outcome, code, run.elapsed_s)
    assert outcome.exactly_once and outcome.in_input_order, outcome
    assert outcome.statuses == {"OK": STREAM}, run.stderr()
    assert code == 0, run.stderr()
    assert "retrying for up to 120 s" in run.stderr()  # the outage shows in the job's log


def test_server_frozen_for_20_s_loses_nothing(
    restartable: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    ensure_serving(restartable)
    assert restartable.process is not None
    source, keys = stream_of(tmp_path)
    run = start_classify(tmp_path, "freeze", source, restartable.grpc_target, trained_svm)
    run.wait_for_lines(8)
    os.killpg(restartable.process.pid, signal.SIGSTOP)
    try:
        time.sleep(FREEZE_S)
    finally:
        os.killpg(restartable.process.pid, signal.SIGCONT)
    code = run.wait()
    outcome = audit_records(keys, read_records(run.output))
    report("SIGSTOP 20 s + SIGCONT", outcome, code, run.elapsed_s)
    assert outcome.exactly_once and outcome.in_input_order, outcome
    assert outcome.statuses == {"OK": STREAM}, run.stderr()
    assert code == 0, run.stderr()


def test_server_never_back_every_input_gets_one_record_within_the_budget(
    restartable: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    budget_s = 5  # explicit only here: the default (120 s) would just make the test slow
    ensure_serving(restartable)
    source, keys = stream_of(tmp_path)
    run = start_classify(
        tmp_path,
        "gone",
        source,
        restartable.grpc_target,
        trained_svm,
        "--retry-budget",
        str(budget_s),
    )
    run.wait_for_lines(8)
    restartable.kill()
    killed_at = time.monotonic()
    code = run.wait()
    after_kill_s = time.monotonic() - killed_at
    outcome = audit_records(keys, read_records(run.output))
    report("server never back (--retry-budget 5)", outcome, code, run.elapsed_s)
    assert outcome.exactly_once and outcome.in_input_order, outcome
    assert outcome.statuses.get("RETRY_BUDGET_EXHAUSTED", 0) > 0, outcome
    assert set(outcome.statuses) <= {"OK", "RETRY_BUDGET_EXHAUSTED"}, outcome
    assert code == 1
    # Budget, plus a bound for the records of what is left and process exit on busy cores.
    assert after_kill_s < budget_s + 20, after_kill_s


def _version_config(tmp_path: Path, base: Path) -> Path:
    config = tmp_path / "models.config"
    config.write_text(
        "model_config_list { config { "
        f'name: "{MODEL_NAME}" base_path: "{base}" model_platform: "tensorflow" '
        "model_version_policy { all {} } } }\n"
    )
    return config


def _wait_for_version(target: str, version: int, timeout_s: float = 120) -> None:
    config = FeaturizerConfig(
        target=ModelTarget(version=version), retry=RetryPolicy(max_attempts=1)
    )
    deadline = time.monotonic() + timeout_s
    while True:
        with grpc.insecure_channel(target) as channel:
            try:
                Featurizer(channel, config).fetch_signature()
                return
            except ClientError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(0.5)


def test_new_version_mid_stream_pinned_by_default_flagged_with_latest(
    model_base_path: Path, trained_svm: Path, tmp_path: Path
) -> None:
    base = tmp_path / "models" / MODEL_NAME
    shutil.copytree(model_base_path / "1", base / "1")
    _, keys = stream_of(tmp_path, 24)
    half = len(keys) // 2
    with running_server(
        model_config_file=_version_config(tmp_path, base),
        extra_flags=("--file_system_poll_wait_seconds=1",),
    ) as server:
        runs = {
            name: start_classify(
                tmp_path, name, Path("-"), server.grpc_target, trained_svm, *extra, stdin=True
            )
            for name, extra in (("pinned", ()), ("latest", ("--model-version", "latest")))
        }
        for run in runs.values():
            run.feed(keys[:half])
        for run in runs.values():
            run.wait_for_lines(half)
        shutil.copytree(base / "1", base / ".2.partial")
        (base / ".2.partial").rename(base / "2")
        _wait_for_version(server.grpc_target, 2)
        for run in runs.values():
            run.feed(keys[half:])
            run.close_stdin()
        codes = {name: run.wait() for name, run in runs.items()}
    pinned, latest = (read_records(runs[name].output) for name in ("pinned", "latest"))
    for name, records in (("pinned", pinned), ("latest", latest)):
        outcome = audit_records(keys, records)
        report(f"new version mid-stream ({name})", outcome, codes[name], runs[name].elapsed_s)
        assert outcome.exactly_once and outcome.in_input_order, (name, outcome)
        assert outcome.statuses == {"OK": len(keys)}, (name, outcome)
    assert {r["model_version"] for r in pinned} == {1}
    assert all(r["flag"] is None for r in pinned) and codes["pinned"] == 0
    assert [r["model_version"] for r in latest[half:]] == [2] * (len(keys) - half)
    assert all("version 2" in r["flag"] for r in latest[half:])
    assert all(r["flag"] is None for r in latest[:half])
    assert codes["latest"] == 1, runs["latest"].stderr()


def test_resume_after_sigkill_of_the_client_gives_every_input_once(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    source, keys = stream_of(tmp_path)
    first = start_classify(tmp_path, "resume", source, stand_in.grpc_target, trained_svm)
    first.wait_for_lines(10)
    first.signal(signal.SIGKILL)
    first.wait()
    with first.output.open("ab") as handle:  # as if killed in the middle of a write
        handle.write(b'{"schema": 1, "path": "')
    resumed = start_classify(
        tmp_path, "resume", source, stand_in.grpc_target, trained_svm, "--resume"
    )
    code = resumed.wait()
    outcome = audit_records(keys, read_records(resumed.output))
    report("--resume after SIGKILL of the client", outcome, code, resumed.elapsed_s)
    assert outcome.exactly_once and outcome.in_input_order, outcome
    assert code == 0, resumed.stderr()
    assert "already recorded" in resumed.stderr()


def test_sigint_writes_complete_lines_exits_130_and_resume_finishes(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    source, keys = stream_of(tmp_path)
    run = start_classify(tmp_path, "sigint", source, stand_in.grpc_target, trained_svm)
    run.wait_for_lines(6)
    run.signal(signal.SIGINT)
    code = run.wait(timeout_s=60)
    interrupted = audit_records(keys, read_records(run.output))  # every line parses
    report("SIGINT mid-run", interrupted, code, run.elapsed_s)
    assert code == 130, run.stderr()
    assert interrupted.duplicates == 0 and interrupted.in_input_order, interrupted
    assert interrupted.records < len(keys), "the interrupt must have stopped the run early"
    assert "interrupted:" in run.stderr() and "Traceback" not in run.stderr()
    resumed = start_classify(
        tmp_path, "sigint", source, stand_in.grpc_target, trained_svm, "--resume"
    )
    assert resumed.wait() == 0, resumed.stderr()
    outcome = audit_records(keys, read_records(resumed.output))
    assert outcome.exactly_once and outcome.in_input_order, outcome


def test_closed_pipe_ends_quietly(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    source, _ = stream_of(tmp_path)
    command = (
        f"set -o pipefail; {sys.executable} -m inception_svm_client.cli classify {source} "
        f"--server {stand_in.grpc_target} --svm {trained_svm} --batch-size 4 | head -1"
    )
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
        cwd=REPO_ROOT,
        check=False,
    )
    wall_s = time.monotonic() - started
    print(f"[classify-fault] | head -1: exit={result.returncode} wall_s={wall_s:.1f}")
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode == 141
