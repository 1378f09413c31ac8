"""Run every test file alone, each in its own pytest process (``make test-isolated``).

A test that passes in the full suite only because an earlier test built a fixture, made a
request or left a file behind passes vacuously, or fails for whoever runs that one file.
Running each file in a fresh process, in a fixed order (``-p no:randomly``), is the proof
that it sets up what it needs itself. Stdlib only, so it runs before anything is installed
beyond pytest; the files run a few at a time, each bounded in seconds, and the table at the
end names what failed and where its output is.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = REPO_ROOT / "tests"
# pytest's exit code when a file collected no tests: for a test_*.py file that is a defect.
_NO_TESTS_COLLECTED = 5


@dataclass(frozen=True)
class FileResult:
    """What one file's own pytest process reported."""

    path: str
    passed: int
    failed: int
    errors: int
    skipped: int
    seconds: float
    returncode: int | None  # None: killed at the per-file time limit
    log_path: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0 and self.errors == 0

    @property
    def status(self) -> str:
        if self.returncode is None:
            return "TIMEOUT"
        if self.returncode == _NO_TESTS_COLLECTED:
            return "NO TESTS"
        return "ok" if self.ok else "FAIL"


def files_to_run(paths: Sequence[str]) -> list[Path]:
    """``test_*.py`` files (pytest's own discovery rule) under the folders named, plus the
    files named; every one under tests/ by default."""
    files: set[Path] = set()
    for path in map(Path, paths or [str(TESTS_DIR)]):
        files.update(path.rglob("test_*.py") if path.is_dir() else [path])
    return sorted(file.resolve() for file in files)


def _junit_counts(junit_path: Path) -> tuple[int, int, int, int]:
    """(passed, failed, errors, skipped) from pytest's JUnit XML; zeros when it wrote none
    (the process died or was killed before the end)."""
    try:
        root = ElementTree.parse(junit_path).getroot()
    except (OSError, ElementTree.ParseError):
        return 0, 0, 0, 0
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return 0, 0, 0, 0
    tests, failed, errors, skipped = (
        int(suite.get(name, "0")) for name in ("tests", "failures", "errors", "skipped")
    )
    return tests - failed - errors - skipped, failed, errors, skipped


def run_file(path: Path, log_dir: Path, timeout_s: float) -> FileResult:
    """One file in its own ``python -m pytest`` process group, killed whole at the limit so
    no server it started outlives it."""
    relative = (
        path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)
    )
    stem = relative.replace("/", "__").removesuffix(".py")
    log_path = log_dir / f"{stem}.log"
    junit_path = log_dir / f"{stem}.xml"
    junit_path.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--junitxml={junit_path}",
        relative,
    ]
    started = time.monotonic()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        returncode: int | None
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            returncode = None
    seconds = time.monotonic() - started
    passed, failed, errors, skipped = _junit_counts(junit_path)
    return FileResult(relative, passed, failed, errors, skipped, seconds, returncode, log_path)


def format_table(results: Sequence[FileResult]) -> str:
    width = max(len("file"), *(len(result.path) for result in results))
    header = (
        f"{'file':<{width}}  {'status':<8} {'passed':>6} {'failed':>6} {'errors':>6} "
        f"{'skipped':>7} {'seconds':>8}"
    )
    lines = [header, "-" * len(header)]
    for result in sorted(results, key=lambda result: result.path):
        lines.append(
            f"{result.path:<{width}}  {result.status:<8} {result.passed:>6} {result.failed:>6} "
            f"{result.errors:>6} {result.skipped:>7} {result.seconds:>8.1f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="test files or folders (default: tests/)")
    parser.add_argument("--jobs", type=int, default=2, help="files run at the same time")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds one file may take before it is killed"
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=REPO_ROOT / "build" / "test-isolated",
        help="where each file's output and JUnit XML go",
    )
    args = parser.parse_args(argv)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    files = files_to_run(args.files)
    print(
        f"{len(files)} test files, each alone, {args.jobs} at a time, "
        f"{args.timeout:.0f} s each at most; logs in {args.log_dir}",
        flush=True,
    )
    started = time.monotonic()
    results: list[FileResult] = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_file, path, args.log_dir, args.timeout) for path in files]
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            results.append(result)
            print(
                f"[{done}/{len(files)}] {result.status:<8} {result.path} ({result.seconds:.0f} s)",
                flush=True,
            )
    print()
    print(format_table(results))
    bad = [result for result in results if not result.ok]
    elapsed = time.monotonic() - started
    print(f"\n{len(files) - len(bad)}/{len(files)} files pass alone in {elapsed:.0f} s")
    for result in sorted(bad, key=lambda result: result.path):
        print(f"  {result.status}: {result.path}, output in {result.log_path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
