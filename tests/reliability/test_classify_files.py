"""``classify`` against a real server when the files around it misbehave: a full disk under
``--output`` or ``--report``, a NUL byte in a path on stdin, entries a walk cannot follow.
Each input still gets one record, what was written stays intact, and the message says how
to continue.

A full disk is simulated with ``RLIMIT_FSIZE`` (writes past the limit fail with EFBIG, as
they would with ENOSPC): no mount and no device node is needed, and nothing outside the
test's own directory is touched."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.harness import ServerHandle, subprocess_env
from tests.paths import REPO_ROOT, car_photos
from tests.reliability.cli import CLI_TIMEOUT_S, jsonl_records, run_cli


def _run_with_file_limit(limit_bytes: int, *args: str) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # in the child, before exec: the limit and SIGXFSZ ignored
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return run_cli(*args, preexec_fn=limit)


def test_a_full_disk_keeps_the_records_written_and_says_how_to_resume(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    photos = [str(p) for p in car_photos()[:12]]
    output = tmp_path / "records.jsonl"
    common = ["--server", stand_in.grpc_target, "--svm", str(trained_svm), "--batch-size", "4"]
    full = _run_with_file_limit(700, "classify", *photos, *common, "--output", str(output))
    assert full.returncode == 2, full.stderr
    assert "Traceback" not in full.stderr
    assert f"--resume --output {output}" in full.stderr
    assert "intact" in full.stderr
    data = output.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    kept = [json.loads(line) for line in complete.decode().splitlines()]
    assert 0 < len(kept) < len(photos)
    assert [r["path"] for r in kept] == photos[: len(kept)]
    resumed = run_cli("classify", *photos, *common, "--resume", "--output", str(output))
    assert resumed.returncode == 0, resumed.stderr
    records = jsonl_records(output.read_text())
    assert sorted(r["path"] for r in records) == sorted(photos)  # each once, none lost


def test_a_report_that_cannot_be_written_keeps_the_records(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    photos = [str(p) for p in car_photos()[:3]]
    report = tmp_path / "report.html"
    result = _run_with_file_limit(
        4096, "classify", *photos, "--server", stand_in.grpc_target,
        "--svm", str(trained_svm), "--report", str(report),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"--report {report}" in result.stderr and "records are intact" in result.stderr
    assert [r["path"] for r in jsonl_records(result.stdout)] == photos
    assert not report.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staging file left behind


def test_nul_bytes_and_unfollowable_links_each_get_a_record(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    photo = str(car_photos()[0])
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    stdin = f"{photo}\0{photo}\0\n{photo}\n".encode()  # find -print0, then a good line
    result = subprocess.run(
        [sys.executable, "-m", "inception_svm_client.cli", "classify", "-", str(folder),
         "--server", stand_in.grpc_target, "--svm", str(trained_svm)],
        input=stdin, capture_output=True, timeout=CLI_TIMEOUT_S, env=subprocess_env(),
        cwd=REPO_ROOT, check=False,
    )  # fmt: skip
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    records = jsonl_records(result.stdout.decode())
    assert len(records) == 4, records
    nul, good, dangling, loop = records
    assert nul["status"] == "UNREADABLE" and "NUL byte" in nul["error"]
    assert good["status"] == "OK" and good["path"] == photo
    assert dangling["status"] == "UNREADABLE" and "dangling" in dangling["error"]
    assert loop["status"] == "UNREADABLE" and "loop" in loop["error"]


def test_two_runs_on_one_output_cannot_interleave(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    """The first run reads paths from a stdin kept open, so it holds --output while the
    second starts: the second must exit 2 at once, and the first must finish intact."""
    photos = [str(p) for p in car_photos()[:4]]
    output = tmp_path / "records.jsonl"
    common = ["--server", stand_in.grpc_target, "--svm", str(trained_svm), "--output", str(output)]
    first = subprocess.Popen(
        [sys.executable, "-m", "inception_svm_client.cli", "classify", "-", *common],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=subprocess_env(), cwd=REPO_ROOT,
    )  # fmt: skip
    try:
        assert first.stdin is not None
        first.stdin.write(photos[0] + "\n")
        first.stdin.flush()
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while not output.exists() or not output.read_text():  # the first record is out
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        for flags in ([], ["--resume"]):
            second = run_cli("classify", *photos, *common, *flags)
            assert second.returncode == 2, second.stderr
            assert "another run" in second.stderr
        first.stdin.write("\n".join(photos[1:]) + "\n")
        first.stdin.close()
        first.stdin = None
        assert first.wait(CLI_TIMEOUT_S) == 0, first.stderr.read() if first.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert [r["path"] for r in jsonl_records(output.read_text())] == photos
