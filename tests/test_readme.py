"""The documentation runs as written: README.md, client/README.md and every docs/*.md. Every
``sh`` and ``python`` block is executed, in document order, against the session's stand-in,
or names the test that runs the same command line.

A block opts out with an HTML comment on the line before its fence, which the rendered README
does not show:

- ``<!-- readme-test: covered-by tests/PATH.py[::NAME] REASON -->``: another test runs that
  command line (the file, and the test when named, must exist);
- ``<!-- readme-test: skip REASON -->``: cannot run in CI at all (a cluster, Docker, the
  internet, minutes of CPU); the reason is required.

Runnable blocks run with the repository's files and ``.venv`` at the same relative paths
but in a fresh working directory per document (so ``build/`` is that document's own, and a
document never depends on another one having run), with the documents'
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
DOCUMENTS = [README, REPO_ROOT / "client" / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
RUNNABLE = ("sh", "python")
BLOCK_TIMEOUT_S = 180
_FENCE = re.compile(r"^\s*```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme-test:\s*(skip|covered-by)\s+(.*?)\s*-->\s*$")
# What the README's readers have in a checkout, linked into the scratch directory.
_LINKED = (
    "client",
    "docs",
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
    document: str = "README.md"  # relative to the repository root

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}:{self.language}"


def readme_blocks(text: str, document: str = "README.md") -> list[Block]:
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
        blocks.append(Block(fence.group(1), code, start + 1, marker, document))
        index = end + 1
    return blocks


BLOCKS = [
    block
    for path in DOCUMENTS
    for block in readme_blocks(path.read_text(), str(path.relative_to(REPO_ROOT)))
    if block.language in RUNNABLE
]
RUN_BLOCKS = [block for block in BLOCKS if block.marker is None]


def test_readme_has_runnable_blocks_and_every_marker_is_well_formed() -> None:
    assert any(block.marker is None for block in BLOCKS), "no README block is run"
    assert any(b.marker is None and b.document == "README.md" for b in BLOCKS)
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
    """A reader going down one document in one checkout: each runnable block runs once, in
    document order, after every block above it (later blocks use what earlier ones built,
    e.g. ``build/demo/svm.onnx``). A test asking for a block first runs the blocks above it
    that have not run yet, so each test passes or fails the same in any order and alone."""

    def __init__(self, workdir: Path, server: ServerHandle, document: str) -> None:
        self._workdir = workdir
        self._server = server
        self._blocks = [block for block in RUN_BLOCKS if block.document == document]
        self._results: dict[int, subprocess.CompletedProcess[str]] = {}

    def read_down_to(self, block: Block) -> subprocess.CompletedProcess[str]:
        for earlier in self._blocks[: self._blocks.index(block)]:
            if self._run(earlier).returncode != 0:
                pytest.fail(f"{block.id} not run: the block above it, {earlier.id}, failed")
        return self._run(block)

    def _run(self, block: Block) -> subprocess.CompletedProcess[str]:
        if block.line not in self._results:
            self._results[block.line] = _run_block(block, self._server, self._workdir)
        return self._results[block.line]


@pytest.fixture(scope="module")
def readers(
    tmp_path_factory: pytest.TempPathFactory, stand_in: ServerHandle
) -> dict[str, ReadmeReader]:
    """Per document, a checkout as a reader has it: the repository's files and .venv, a
    fresh build/ (made when the document's first block runs)."""

    class _Readers(dict[str, ReadmeReader]):
        def __missing__(self, document: str) -> ReadmeReader:
            directory = tmp_path_factory.mktemp("readme")
            for name in (*_LINKED, ".venv"):
                source = REPO_ROOT / name
                if source.exists():
                    (directory / name).symlink_to(source)
            self[document] = ReadmeReader(directory, stand_in, document)
            return self[document]

    return _Readers()


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
def test_readme_block_runs(block: Block, readers: dict[str, ReadmeReader]) -> None:
    result = readers[block.document].read_down_to(block)
    assert result.returncode == 0, (
        f"{block.id} exited with {result.returncode}\n--- code\n{block.code}"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
