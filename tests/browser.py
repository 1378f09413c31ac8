"""Headless Chromium for tests that must see a page as a user's browser does.

One helper for every page check: the DOM after scripts ran (``--dump-dom``) and a
screenshot (``--screenshot``). ``make install-browser`` installs Debian's ``chromium``
when it is missing (CI runs it); without it these tests skip and say how to get it.
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
TIMEOUT_S = 120
# --no-sandbox: CI and test containers run as root, where Chromium refuses its sandbox.
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
)


def chromium_binary() -> str | None:
    """``CHROMIUM`` from the environment, else the first browser on PATH."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def require_chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no headless Chromium: run `make install-browser`")
    return binary


@dataclass(frozen=True)
class BrowserRun:
    output: str  # the DOM for dump_dom, the PNG path for screenshot
    wall_s: float  # process start to exit: launch, load, scripts, dump


def _run(arguments: list[str], timeout_s: float) -> tuple[str, float]:
    binary = require_chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [binary, *_FLAGS, f"--user-data-dir={profile}", *arguments]
        started = time.monotonic()
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        wall_s = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited with {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout, wall_s


def dump_dom(page: Path, *, timeout_s: float = TIMEOUT_S) -> BrowserRun:
    """The serialized DOM once the page loaded and its scripts ran."""
    dom, wall_s = _run(["--dump-dom", page.resolve().as_uri()], timeout_s)
    return BrowserRun(dom, wall_s)


def screenshot(
    page: Path, png: Path, *, width: int = 1280, height: int = 1600, timeout_s: float = TIMEOUT_S
) -> BrowserRun:
    """A PNG of the first ``width`` x ``height`` pixels of the page."""
    arguments = [f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri()]
    _, wall_s = _run(arguments, timeout_s)
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot at {png}")
    return BrowserRun(str(png), wall_s)
