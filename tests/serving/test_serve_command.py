"""The ``serve`` command plugin (``serve_command.py``): cheap to import for every CLI run."""

from __future__ import annotations

import subprocess
import sys


def test_serve_command_module_imports_no_tensorflow() -> None:
    """``inception-svm classify`` imports every command plugin; serve's must stay light."""
    probe = (
        "import sys, inception_svm_serving.serve_command; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tensorflow_serving') or m == 'inception_svm_serving.config.options'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
