"""Run ``inception-svm`` as a user would: a separate process, exit code and streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.harness import REPO_ROOT

CLI_TIMEOUT_S = 300


def run_cli(*args: str, timeout_s: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "inception_svm_client.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )


def jsonl_records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
