"""Run ``inception-svm`` as a user would: a separate process, exit code and streams."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tests.harness import subprocess_env
from tests.paths import REPO_ROOT

CLI_TIMEOUT_S = 300


def run_cli(
    *args: str, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process; ``preexec_fn`` runs in the child before exec (limits)."""
    return subprocess.run(
        [sys.executable, "-m", "inception_svm_client.cli", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=subprocess_env(),
        cwd=REPO_ROOT,
        preexec_fn=preexec_fn,
        check=False,
    )


def jsonl_records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
