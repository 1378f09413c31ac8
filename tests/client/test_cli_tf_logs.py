"""The ``inception-svm`` host sets TensorFlow's C++ log level before any command can import
TensorFlow (outside `make`, TF's INFO lines otherwise drown the output), and keeps a level
the user set."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness import subprocess_env

PROBE = (
    "import os\n"
    "from inception_svm_client.cli import main\n"
    "try:\n"
    "    main(['--version'])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))\n"
)


@pytest.mark.parametrize(("user", "expected"), [(None, "2"), ("0", "0"), ("3", "3")])
def test_the_tf_log_level_default_keeps_the_users_own(user: str | None, expected: str) -> None:
    env = {k: v for k, v in subprocess_env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if user is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = user
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == expected
