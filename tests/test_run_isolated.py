"""``make test-isolated``'s runner, as the Makefile calls it, on small test files written here:
a file that fails alone must fail the run and be named, and a hung file must be cut off."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO_ROOT

RUNNER = REPO_ROOT / "tests" / "run_isolated.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _row(stdout: str, name: str) -> list[str]:
    (line,) = [line for line in stdout.splitlines() if re.match(rf"\S*{name}\s", line)]
    return line.split()[1:]


def test_a_file_that_fails_alone_fails_the_run_and_is_named(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_alone_ok.py").write_text("def test_ok():\n    assert True\n")
    # Passes only after another test filled STATE: alone it fails.
    (tests / "test_alone_bad.py").write_text(
        "STATE = []\n\ndef test_needs_state():\n    assert STATE\n\ndef test_fine():\n    pass\n"
    )
    result = _run(str(tests), "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 1, result.stdout + result.stderr
    # status, passed, failed, errors, skipped, seconds
    assert _row(result.stdout, "test_alone_ok.py")[:5] == ["ok", "1", "0", "0", "0"]
    assert _row(result.stdout, "test_alone_bad.py")[:5] == ["FAIL", "1", "1", "0", "0"]
    assert "1/2 files pass alone" in result.stdout
    (log,) = (tmp_path / "logs").glob("*test_alone_bad.log")
    assert "assert STATE" in log.read_text()


def test_a_hung_file_is_killed_at_the_limit(tmp_path: Path) -> None:
    hung = tmp_path / "test_hangs.py"
    hung.write_text("import time\n\ndef test_hangs():\n    time.sleep(600)\n")
    result = _run(str(hung), "--timeout", "3", "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 1, result.stdout + result.stderr
    status, *_, seconds = _row(result.stdout, "test_hangs.py")
    assert status == "TIMEOUT"
    assert float(seconds) < 60


def test_every_passing_file_passes_the_run(tmp_path: Path) -> None:
    passing = tmp_path / "test_fine.py"
    passing.write_text("def test_fine():\n    pass\n")
    result = _run(str(passing), "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1/1 files pass alone" in result.stdout
