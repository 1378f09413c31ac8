"""The images' install step, run for real: each Dockerfile's COPY lines are replayed into a
build context, its one install script (k8s/docker/install-image.sh) installs into a fresh
virtual environment, and that environment is used as the image uses it. A dependency the
image lacks fails here, not in a Job on a cluster.

Wheels are kept in build/wheelhouse (the script's $WHEELHOUSE, like a CI wheel cache): the
first run downloads them (minutes: TensorFlow is ~250 MB), later runs install offline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inception_svm_export.integrity import MANIFEST_FILE
from tests.export.test_warmup import warmup_batch_sizes_in
from tests.harness import ServerHandle, subprocess_env
from tests.k8s.kustomize import K8S_DIR
from tests.k8s.test_fetch_model import fetch
from tests.paths import CARS_DIR, REPO_ROOT, SERVING_DIR, unlabeled_photos

pytestmark = pytest.mark.slow

DOCKER_DIR = K8S_DIR / "docker"
WHEELHOUSE = REPO_ROOT / "build" / "wheelhouse"
# Online on a cold wheelhouse (~10 min on 2 shared cores); warm, see the report in the README.
INSTALL_TIMEOUT_S = 1800
COPY_LINE = re.compile(r"^COPY\s+(?!--)(\S+)\s+(\S+)\s*$", re.MULTILINE)


def build_context(dockerfile: Path, context: Path) -> Path:
    """Exactly what the Dockerfile COPYs into its WORKDIR, from the repository root."""
    copies = COPY_LINE.findall(dockerfile.read_text())
    assert copies, f"{dockerfile.name} has no COPY lines"
    for source, target in copies:
        src, dst = REPO_ROOT / source, context / target
        if src.is_dir():
            shutil.copytree(
                src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
            )
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return context


def image_env() -> dict[str, str]:
    """The tests' subprocess environment without anything that could leak the repository's
    packages into the fresh venv."""
    env = subprocess_env()
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    return env


def install_image_env(image: str, context: Path, venv: Path) -> Path:
    """Run the image's install step into ``venv``; returns the venv's bin dir."""
    build_context(DOCKER_DIR / f"{image}.Dockerfile", context)
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["sh", "k8s/docker/install-image.sh", image],
        cwd=context,
        env={**image_env(), "PYTHON": str(venv / "bin" / "python"), "WHEELHOUSE": str(WHEELHOUSE)},
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return venv / "bin"


def run_cli(bin_dir: Path, *args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "inception-svm"), *args],
        env=image_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_image_envs_classify_and_export_a_verifiable_model(
    tmp_path: Path, stand_in: ServerHandle, trained_svm: Path, random_checkpoint_v1: Path
) -> None:
    """One venv, grown the way the images differ: first exactly the client image (classify
    against the stand-in), then the exporter image's install on top (the exporter image is
    the client plus TensorFlow and the exporter), which must export a model that the pod's
    verifying init container accepts. One venv keeps this affordable on CI."""
    venv = tmp_path / "venv"
    client_bin = install_image_env("client", tmp_path / "client-context", venv)
    classified = run_cli(
        client_bin,
        "classify",
        str(CARS_DIR / "unlabeled"),
        f"--server={stand_in.grpc_target}",
        f"--svm={trained_svm}",
        "--format=jsonl",
        timeout=300,
    )
    assert classified.returncode == 0, classified.stderr[-4000:]
    records = [json.loads(line) for line in classified.stdout.splitlines()]
    assert len(records) == len(unlabeled_photos())
    assert all(r["label"] in {"classic", "modern"} and r["error"] is None for r in records)

    exporter_bin = install_image_env("exporter", tmp_path / "exporter-context", venv)
    model_dir = tmp_path / "store" / "inception_v1"
    exported = run_cli(
        exporter_bin,
        "export",
        f"--checkpoint={random_checkpoint_v1}",
        f"--model-dir={model_dir}",
        "--version=1",
        f"--warmup-batching-parameters={SERVING_DIR / 'batching_parameters_gpu.txt'}",
        f"--cache-dir={tmp_path / 'cache'}",
        timeout=600,
    )
    assert exported.returncode == 0, exported.stderr[-4000:]
    version_dir = Path(exported.stdout.strip())
    assert version_dir == model_dir / "1" and (version_dir / MANIFEST_FILE).is_file()
    pin = re.search(r"MODEL_MANIFEST_SHA256=([0-9a-f]{64})", exported.stderr)
    assert pin is not None, exported.stderr[-2000:]
    # Warmup covers the GPU batching file's padded sizes.
    warmup = version_dir / "assets.extra" / "tf_serving_warmup_requests"
    assert warmup_batch_sizes_in(warmup) == [8, 16, 32, 64, 128]
    # The pod's verifying init container accepts it with the pin the export printed.
    fetched = fetch(
        tmp_path / "store", tmp_path / "models", MODEL_MANIFEST_SHA256S=f"1={pin.group(1)}"
    )
    assert fetched.returncode == 0, fetched.stderr
