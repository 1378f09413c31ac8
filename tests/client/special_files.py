"""Special files made inside a test's own directory, never the system's: a FIFO, copies of
/dev/null and /dev/zero's device numbers (``os.mknod``, as root; skipped otherwise), a
symbolic link, and a way to run a function without root's power to read anything."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

NOBODY = 65534


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def char_device(path: Path, minor: int) -> Path:
    """A character device node with /dev/null's (minor 3) or /dev/zero's (5) numbers."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("creating a device node needs root (CAP_MKNOD)")
    return path


def null_device(path: Path) -> Path:
    return char_device(path, 3)


def zero_device(path: Path) -> Path:
    return char_device(path, 5)


def kind(path: Path) -> str:
    """What the path is now, without following a link: the proof that it survived."""
    mode = os.lstat(path).st_mode
    for check, name in (
        (stat.S_ISLNK, "link"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISCHR, "chardev"),
        (stat.S_ISDIR, "dir"),
        (stat.S_ISREG, "file"),
    ):
        if check(mode):
            return name
    return "other"


def world_readable_dir() -> Path:
    """A directory an unprivileged user can enter (pytest's tmp_path is root's, 0700)."""
    path = Path(tempfile.mkdtemp(prefix="inception-svm-perm-"))
    path.chmod(0o755)
    return path


def unprivileged(function: Callable[[], Any]) -> Any:
    """``function()`` as a user without root's override of file permissions: in a forked
    child that drops to ``nobody`` when the tests run as root (permission bits mean nothing
    to root), in this process otherwise. The result travels back as JSON."""
    if os.geteuid() != 0:
        return function()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = json.dumps({"ok": function()})
        except BaseException as error:  # reported to the parent, not raised here
            payload = json.dumps({"error": repr(error)})
            code = 1
        with os.fdopen(write_end, "w") as out:
            out.write(payload)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as source:
        payload = source.read()
    os.waitpid(pid, 0)
    result = json.loads(payload)
    if "error" in result:
        raise AssertionError(f"in the unprivileged child: {result['error']}")
    return result["ok"]
