"""Headless Chromium for tests that must see an HTML page the way a user's browser does.

One place for the command line (sandbox off as root, a throw-away profile so parallel runs
never share one, virtual time so scripts finish before the DOM is read). Chromium comes
from Debian's ``chromium`` package: ``make browser`` installs it and ``make test`` depends
on it, so a missing browser is a failure with that instruction, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Virtual milliseconds Chromium lets scripts run before it dumps or shoots the page.
SCRIPT_BUDGET_MS = 10_000
TIMEOUT_S = 120
_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in CI, where Chromium refuses its sandbox
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
    f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
)


@dataclass(frozen=True)
class BrowserRun:
    output: str  # the DOM for dump_dom, the PNG path for screenshot
    wall_s: float  # process start to exit: launch, load, scripts, dump


def chromium() -> str:
    """``CHROMIUM`` from the environment, else the first browser on PATH."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("no headless Chromium on PATH: run `make browser` (Debian's chromium package)")


def _run(page: Path, *arguments: str, timeout_s: float) -> BrowserRun:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [chromium(), *_FLAGS, f"--user-data-dir={profile}", *arguments]
        started = time.monotonic()
        result = subprocess.run(
            [*command, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        wall_s = time.monotonic() - started
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}: {result.stderr[-2000:]}")
    return BrowserRun(result.stdout, wall_s)


def dump_dom(page: Path, *, timeout_s: float = TIMEOUT_S) -> BrowserRun:
    """The serialized DOM once the page loaded and its scripts ran."""
    return _run(page, "--dump-dom", timeout_s=timeout_s)


def screenshot(
    page: Path, png: Path, *, width: int = 1280, height: int = 1600, timeout_s: float = TIMEOUT_S
) -> BrowserRun:
    """A PNG of the first ``width`` x ``height`` CSS pixels of the page."""
    run = _run(
        page,
        f"--screenshot={png.resolve()}",
        f"--window-size={width},{height}",
        timeout_s=timeout_s,
    )
    if not png.is_file() or png.stat().st_size == 0:
        raise AssertionError(f"chromium wrote no screenshot to {png}")
    return BrowserRun(str(png), run.wall_s)
