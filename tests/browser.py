"""Headless Chromium for tests that must see an HTML page the way a user's browser does.

One place for the command line (sandbox off as root, a throw-away profile so parallel runs
never share one, virtual time so scripts finish before the DOM is read). Chromium comes
from Debian's ``chromium`` package: ``make browser`` installs it, ``make test`` depends on
it, so a missing browser is a failure with that instruction, never a skip.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Virtual milliseconds Chromium lets scripts run before it dumps or shoots the page.
SCRIPT_BUDGET_MS = 10_000
TIMEOUT_S = 120


def chromium() -> str:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no headless Chromium on PATH: run `make browser` (Debian's chromium package)")


def _run(page: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",  # tests run as root in CI containers
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
            *flags,
            page.resolve().as_uri(),
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def dump_dom(page: Path) -> str:
    """The page's DOM after its scripts ran (what ``--dump-dom`` prints)."""
    return _run(page, "--dump-dom").stdout


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 2400) -> Path:
    """A PNG of the rendered page at ``width``×``height`` CSS pixels."""
    _run(
        page,
        f"--screenshot={png.resolve()}",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    )
    if not png.is_file() or png.stat().st_size == 0:
        raise AssertionError(f"chromium wrote no screenshot to {png}")
    return png
