"""README.md runs as written: every ``sh`` and ``python`` block is executed, in README order,
against the session's stand-in, or names the test that runs the same command line.

A block opts out with an HTML comment on the line before its fence, which the rendered README
does not show:

- ``<!-- readme-test: covered-by tests/PATH.py[::NAME] REASON -->``: another test runs that
  command line (the file, and the test when named, must exist);
- ``<!-- readme-test: skip REASON -->``: cannot run in CI at all (a cluster, Docker, the
  internet, minutes of CPU); the reason is required.

Runnable blocks run with the repository's files and ``.venv`` at the same relative paths
but in a fresh working directory (so ``build/`` is the test's own), with the README's
``localhost:8500`` / ``localhost:8501`` pointing at the stand-in: that address mapping is the
only change to what a reader types. Blocks without a language (output, diagrams) are text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import ServerHandle, subprocess_env
from tests.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
RUNNABLE = ("sh", "python")
BLOCK_TIMEOUT_S = 180
_FENCE = re.compile(r"^\s*```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme-test:\s*(skip|covered-by)\s+(.*?)\s*-->\s*$")
# What the README's readers have in a checkout, linked into the scratch directory.
_LINKED = (
    "client",
    "serving",
    "export",
    "k8s",
    "tests",
    "Makefile",
    "pyproject.toml",
    "requirements",
)


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # of the opening fence, for failure messages
    marker: tuple[str, str] | None  # ("skip" | "covered-by", argument)

    @property
    def id(self) -> str:
        return f"README.md:{self.line}:{self.language}"


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        start = index
        end = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("```"))
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        found = _MARKER.match(previous.strip())
        marker = (found.group(1), found.group(2)) if found else None
        code = textwrap.dedent("\n".join(lines[start + 1 : end]) + "\n")
        blocks.append(Block(fence.group(1), code, start + 1, marker))
        index = end + 1
    return blocks


BLOCKS = [block for block in readme_blocks(README.read_text()) if block.language in RUNNABLE]
RUN_BLOCKS = [block for block in BLOCKS if block.marker is None]


def test_readme_has_runnable_blocks_and_every_marker_is_well_formed() -> None:
    assert any(block.marker is None for block in BLOCKS), "no README block is run"
    for block in BLOCKS:
        if block.marker is None:
            continue
        kind, argument = block.marker
        if kind == "skip":
            assert argument, f"{block.id}: a skip needs a reason"
            continue
        target, _, _ = argument.partition(" ")
        path, _, name = target.partition("::")
        test_file = REPO_ROOT / path
        assert test_file.is_file(), f"{block.id}: covered-by {path}, which does not exist"
        if name:
            assert f"def {name}(" in test_file.read_text(), f"{block.id}: no test {target}"


class ReadmeReader:
    """A reader going down the README in one checkout: each runnable block runs once, in
    README order, after every block above it (later blocks use what earlier ones built, e.g.
    ``build/svm.onnx``). A test asking for a block first runs the blocks above it that have
    not run yet, so each test passes or fails the same in any order and alone."""

    def __init__(self, workdir: Path, server: ServerHandle) -> None:
        self._workdir = workdir
        self._server = server
        self._results: dict[int, subprocess.CompletedProcess[str]] = {}

    def read_down_to(self, block: Block) -> subprocess.CompletedProcess[str]:
        for earlier in RUN_BLOCKS[: RUN_BLOCKS.index(block)]:
            if self._run(earlier).returncode != 0:
                pytest.fail(f"{block.id} not run: the block above it, {earlier.id}, failed")
        return self._run(block)

    def _run(self, block: Block) -> subprocess.CompletedProcess[str]:
        if block.line not in self._results:
            self._results[block.line] = _run_block(block, self._server, self._workdir)
        return self._results[block.line]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory, stand_in: ServerHandle) -> ReadmeReader:
    """A checkout as a reader has it: the repository's files and .venv, a fresh build/."""
    directory = tmp_path_factory.mktemp("readme")
    for name in (*_LINKED, ".venv"):
        source = REPO_ROOT / name
        if source.exists():
            (directory / name).symlink_to(source)
    return ReadmeReader(directory, stand_in)


def _addressed(code: str, server: ServerHandle) -> str:
    rest = server.rest_url.removeprefix("http://")
    return code.replace("localhost:8500", server.grpc_target).replace("localhost:8501", rest)


def _run_block(
    block: Block, server: ServerHandle, workdir: Path
) -> subprocess.CompletedProcess[str]:
    code = _addressed(block.code, server)
    env = {
        **subprocess_env(),
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    if block.language == "sh":
        command = ["bash", "-euo", "pipefail", "-c", code]
    else:
        command = [sys.executable, "-c", code]
    return subprocess.run(
        command,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=lambda block: block.id)
def test_readme_block_runs(block: Block, reader: ReadmeReader) -> None:
    result = reader.read_down_to(block)
    assert result.returncode == 0, (
        f"{block.id} exited with {result.returncode}\n--- code\n{block.code}"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
