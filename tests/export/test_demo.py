"""``make demo``'s command, ``inception-svm demo``, end to end on random weights: the plugin
of the full distribution drives the server through the process helper (via ``launch``, as
``make serve``) and the thin client's commands, and stops the server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from inception_svm_export.demo import next_commands
from tests.harness import REPO_ROOT, subprocess_env

DEMO_TIMEOUT_S = 600


@pytest.mark.slow
def test_demo_runs_the_pipeline_and_stops_its_server(model_base_path: Path, tmp_path: Path) -> None:
    # The session's export stands in for the demo's own (reused when version 1/ exists), so
    # this test costs a server start and the client steps, not another export.
    model_dir = tmp_path / "models" / "inception_v1"
    shutil.copytree(model_base_path / "1", model_dir.with_name("inception_v1-random") / "1")
    work_dir = tmp_path / "demo"
    command = [str(REPO_ROOT / ".venv" / "bin" / "inception-svm"), "demo", "--weights=random"]
    command += [f"--model-dir={model_dir}", f"--work-dir={work_dir}"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=tmp_path,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.count("WEIGHTS=random: the Inception checkpoint is RANDOM NOISE") == 2
    assert "reusing the SavedModel" in result.stdout
    for step in ("ImageNet top-5 of", "train on", "classify", "server stopped"):
        assert f"==> {step}" in result.stdout, output
    assert (work_dir / "svm.onnx").is_file() and (work_dir / "report.html").is_file()
    random_dir = model_dir.with_name("inception_v1-random")
    assert next_commands(random_dir, work_dir / "svm.onnx") in result.stdout, output
    events = [json.loads(line).get("event") for line in _json_lines(work_dir / "server.log")]
    assert "serving" in events and events[-1] == "stopped", events  # SIGTERM, drained


def _json_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("{")]


def test_the_readme_walk_through_uses_the_paths_the_demo_writes() -> None:
    # `make demo WEIGHTS=random` with its defaults: the next commands it prints are the
    # README's walk-through, line for line (only the comment may differ).
    printed = next_commands(Path("build/models/inception_v1-random"), Path("build/demo/svm.onnx"))
    readme = (REPO_ROOT / "README.md").read_text()
    for line in printed.splitlines()[1:]:
        command = line.strip().split("  #")[0].strip()
        assert command in readme, command
