"""A test host name in /etc/hosts whose set of loopback addresses a test can change.

Why /etc/hosts and not a private mount namespace: CI is a fresh Debian machine or container
where the tests run as root, and root can always write /etc/hosts (in Docker it is a
bind-mounted regular file), whereas ``unshare -m`` + a bind mount needs CAP_SYS_ADMIN, which
default container runtimes drop. gRPC's DNS resolver (c-ares) reads /etc/hosts on every
resolution, so an added line is seen at the next re-resolution, like a new pod's address in a
headless Service's DNS record.

The name is unique per test (``inception-svm-<random>.test``; ``.test`` is reserved by RFC
2606) so no other process can depend on it. The file is edited in place (no rename: a
bind-mounted file cannot be replaced) and on exit exactly the lines naming it are removed,
so concurrent edits by others survive; a test killed before cleanup leaves only lines with a
name nothing else resolves.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HOSTS_FILE = Path("/etc/hosts")


class ScratchHostname:
    """One unique name; ``add`` puts one more address behind it."""

    def __init__(self, hosts_file: Path) -> None:
        self.name = f"inception-svm-{uuid.uuid4().hex[:12]}.test"
        self._hosts_file = hosts_file

    def add(self, address: str) -> None:
        # One short O_APPEND write: a concurrent reader sees the line whole or not at all.
        with self._hosts_file.open("a") as hosts:
            hosts.write(f"{address} {self.name}\n")

    def remove_all(self) -> None:
        lines = self._hosts_file.read_text().splitlines(keepends=True)
        kept = [line for line in lines if self.name not in line.split()]
        if len(kept) != len(lines):
            with self._hosts_file.open("w") as hosts:
                hosts.write("".join(kept))


@contextlib.contextmanager
def scratch_hostname(hosts_file: Path = HOSTS_FILE) -> Iterator[ScratchHostname]:
    """Skips (with the reason) where /etc/hosts is not writable, i.e. not running as root."""
    if not os.access(hosts_file, os.W_OK):
        pytest.skip(f"needs write access to {hosts_file} (run as root, as CI does)")
    hostname = ScratchHostname(hosts_file)
    try:
        yield hostname
    finally:
        hostname.remove_all()
