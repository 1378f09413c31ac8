"""``inception-svm classify`` as a background process writing ``--output FILE``, so a fault
test can act when the run is at a given point (N records written) and audit the file.

The CLI runs exactly as a user types it: default flags except what each test names.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness import subprocess_env
from tests.paths import REPO_ROOT


class ClassifyProcess:
    def __init__(
        self,
        output: Path,
        *args: str,
        stdin: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.output = output
        self.stderr_path = output.with_suffix(".stderr")
        self.started = time.monotonic()
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inception_svm_client.cli", "classify", *args],
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**subprocess_env(), **(env or {})},
                cwd=REPO_ROOT,
            )

    def feed(self, paths: Sequence[str]) -> None:
        """Paths for ``-``: the test decides when the second half of a stream exists."""
        assert self.process.stdin is not None
        self.process.stdin.write("".join(f"{path}\n" for path in paths).encode())
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def lines(self) -> int:
        try:
            return self.output.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    def wait_for_lines(self, count: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while self.lines() < count:
            if self.process.poll() is not None:
                raise AssertionError(f"classify exited early:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} records after {timeout_s} s")
            time.sleep(0.05)

    def signal(self, number: int) -> None:
        os.kill(self.process.pid, number)

    def wait(self, timeout_s: float = 240) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            raise

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every line must be one complete JSON record (a torn line fails the test)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


@dataclass(frozen=True)
class RecordAudit:
    inputs: int
    records: int
    duplicates: int
    lost: int
    in_input_order: bool
    statuses: dict[str, int]

    @property
    def exactly_once(self) -> bool:
        return self.duplicates == 0 and self.lost == 0 and self.records == self.inputs


def audit_records(expected: Sequence[str], records: Sequence[dict[str, Any]]) -> RecordAudit:
    """The multiset of paths in the output against the input list."""
    paths = [str(record["path"]) for record in records]
    counts = Counter(paths)
    return RecordAudit(
        inputs=len(expected),
        records=len(records),
        duplicates=sum(n - 1 for n in counts.values()),
        lost=len(set(expected) - set(counts)),
        in_input_order=list(dict.fromkeys(paths)) == [p for p in expected if p in counts],
        statuses=dict(Counter(str(record["status"]) for record in records)),
    )


def report(name: str, outcome: RecordAudit, code: int, wall_s: float) -> None:
    """One row of the closing note's table (pytest -s shows it)."""
    print(
        f"[classify-fault] {name}: inputs={outcome.inputs} records={outcome.records} "
        f"duplicates={outcome.duplicates} lost={outcome.lost} exit={code} "
        f"wall_s={wall_s:.1f} statuses={outcome.statuses}"
    )
