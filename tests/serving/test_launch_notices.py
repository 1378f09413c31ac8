"""``make serve`` says which server it runs and warns about a model directory that does not
exist (both servers would start and quietly serve nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from inception_svm_serving.launch import launch_notices
from tests.harness import subprocess_env


def test_the_stand_in_fallback_is_announced(tmp_path: Path) -> None:
    notices = launch_notices([f"--model_base_path={tmp_path}"], None)
    assert notices == [
        "launch: tensorflow_model_server is not on PATH: serving with the stand-in "
        "(inception-svm serve; same flags, config files and API)"
    ]
    real = launch_notices([f"--model_base_path={tmp_path}"], "/usr/bin/tensorflow_model_server")
    assert real == ["launch: serving with /usr/bin/tensorflow_model_server"]


def test_a_missing_model_directory_is_warned_about(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "inception_v1"
    notices = launch_notices([f"--model_base_path={missing}"], None)
    assert f"launch: warning: {missing} does not exist" in notices[-1]


def test_make_serve_prints_both_before_the_server_starts(tmp_path: Path) -> None:
    # The command `make serve` runs, with a flag the stand-in refuses (exit 2) so that it
    # stops right after the notices instead of serving.
    env = {**subprocess_env(), "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "inception_svm_serving.launch",
            "--port=0",
            f"--model_base_path={tmp_path / 'nowhere'}",
            "--no_such_flag=1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "serving with the stand-in" in result.stderr, result.stderr
    assert "nowhere does not exist" in result.stderr
    assert result.returncode == 2, result.stderr
