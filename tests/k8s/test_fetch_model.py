"""k8s/base/fetch-model.sh, the serving pod's verifying init container, run for real with
/bin/sh against manifests written by the exporter's own writer (integrity.write_manifest).

The same POSIX script runs under busybox in the cluster; here it runs under the host's
sh + coreutils against a directory tree laid out like the model store. The full chain with a
real export is tests/k8s/test_model_delivery.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from inception_svm_export.integrity import MANIFEST_FILE, file_sha256, write_manifest
from tests.k8s.kustomize import K8S_DIR

SCRIPT = K8S_DIR / "base" / "fetch-model.sh"
FILES = {
    "saved_model.pb": b"graph bytes",
    "variables/variables.index": b"index",
    "variables/variables.data-00000-of-00001": b"weights" * 100,
}


def write_version(store: Path, version: str = "1") -> Path:
    version_dir = store / "inception_v1" / version
    for rel, content in FILES.items():
        (version_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (version_dir / rel).write_bytes(content + version.encode())
    write_manifest(version_dir)
    return version_dir


def fetch(
    store: Path, target: Path, *, allow_unpinned: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the init container's script with the environment its ConfigMaps give it; these
    tests opt out of pinning unless told not to (pinning itself:
    tests/k8s/test_fetch_model_pinning.py)."""
    full_env = {
        "PATH": os.environ["PATH"],
        "MODEL_SOURCE_DIR": str(store),
        "MODEL_TARGET_DIR": str(target),
        "MODEL_NAME": "inception_v1",
        "MODEL_VERSIONS": "1",
        **({"ALLOW_UNPINNED_MODELS": "true"} if allow_unpinned else {}),
        **env,
    }
    return subprocess.run(
        ["sh", str(SCRIPT)], env=full_env, capture_output=True, text=True, timeout=60
    )


def test_installs_every_listed_version_verified(tmp_path: Path) -> None:
    """Both versions a stable/canary config names are installed, each pinned."""
    store = tmp_path / "store"
    pins = " ".join(f"{v}={file_sha256(write_version(store, v) / MANIFEST_FILE)}" for v in "12")
    result = fetch(store, tmp_path / "models", MODEL_VERSIONS="1 2", MODEL_MANIFEST_SHA256S=pins)
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "models" / "inception_v1"
    assert sorted(p.name for p in installed.iterdir()) == ["1", "2"]
    for version in "12":
        for rel, content in FILES.items():
            assert (installed / version / rel).read_bytes() == content + version.encode()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("tamper", "checksum mismatch"),
        ("extra_file", "lists 3 files but"),
        ("no_manifest", "has no SHA256SUMS"),
        ("wrong_pin", "expected 0000"),
        ("bad_version", "must list positive integers"),
        ("missing_version", "no model version at"),
        ("no_versions", "MODEL_VERSIONS is empty"),
    ],
)
def test_refuses_a_damaged_version(tmp_path: Path, damage: str, message: str) -> None:
    version_dir = write_version(tmp_path / "store")
    env: dict[str, str] = {}
    if damage == "tamper":
        (version_dir / "variables" / "variables.index").write_bytes(b"indeX1")
    elif damage == "extra_file":
        (version_dir / "assets.txt").write_text("unlisted")
    elif damage == "no_manifest":
        (version_dir / MANIFEST_FILE).unlink()
    elif damage == "wrong_pin":
        env["MODEL_MANIFEST_SHA256S"] = "1=" + "0" * 64
    elif damage == "bad_version":
        env["MODEL_VERSIONS"] = "1; rm -rf /"
    elif damage == "missing_version":
        env["MODEL_VERSIONS"] = "1 2"
    elif damage == "no_versions":
        env["MODEL_VERSIONS"] = " "
    result = fetch(tmp_path / "store", tmp_path / "models", **env)
    assert result.returncode != 0
    assert message in result.stderr
    # The failing version never becomes visible (in a pod, TF Serving does not even start).
    failed = "2" if damage == "missing_version" else "1"
    assert not (tmp_path / "models" / "inception_v1" / failed).exists()
