"""k8s/base/fetch-model.sh, the serving pod's init container, run for real with /bin/sh.

The same POSIX script runs under busybox in the cluster; here it runs under the host's
sh + coreutils against a real directory tree laid out like the model store.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.k8s.kustomize import K8S_DIR

SCRIPT = K8S_DIR / "base" / "fetch-model.sh"
FILES = {
    "saved_model.pb": b"graph bytes",
    "variables/variables.index": b"index",
    "variables/variables.data-00000-of-00001": b"weights" * 100,
}


def write_version(store: Path, version: str = "1") -> Path:
    version_dir = store / "inception_v1" / version
    lines = []
    for rel, content in FILES.items():
        (version_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (version_dir / rel).write_bytes(content)
        lines.append(f"{hashlib.sha256(content).hexdigest()}  ./{rel}\n")
    (version_dir / "SHA256SUMS").write_text("".join(lines))
    return version_dir


def fetch(store: Path, target: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        "PATH": os.environ["PATH"],
        "MODEL_SOURCE_DIR": str(store),
        "MODEL_TARGET_DIR": str(target),
        "MODEL_NAME": "inception_v1",
        "MODEL_VERSION": "1",
        **env,
    }
    return subprocess.run(
        ["sh", str(SCRIPT)], env=full_env, capture_output=True, text=True, timeout=30
    )


def test_installs_a_verified_version(tmp_path: Path) -> None:
    version_dir = write_version(tmp_path / "store")
    digest = hashlib.sha256((version_dir / "SHA256SUMS").read_bytes()).hexdigest()
    result = fetch(tmp_path / "store", tmp_path / "models", MODEL_MANIFEST_SHA256=digest)
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "models" / "inception_v1"
    assert sorted(p.name for p in installed.iterdir()) == ["1"]
    for rel, content in FILES.items():
        assert (installed / "1" / rel).read_bytes() == content


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("tamper", "checksum mismatch"),
        ("extra_file", "lists 3 files but the version dir holds 4"),
        ("no_manifest", "has no SHA256SUMS"),
        ("wrong_pin", "expected MODEL_MANIFEST_SHA256"),
        ("bad_version", "must be a positive integer"),
        ("missing_version", "no model version at"),
    ],
)
def test_refuses_a_damaged_version(tmp_path: Path, damage: str, message: str) -> None:
    version_dir = write_version(tmp_path / "store")
    env: dict[str, str] = {}
    if damage == "tamper":
        (version_dir / "variables" / "variables.index").write_bytes(b"indeX")
    elif damage == "extra_file":
        (version_dir / "assets.txt").write_text("unlisted")
    elif damage == "no_manifest":
        (version_dir / "SHA256SUMS").unlink()
    elif damage == "wrong_pin":
        env["MODEL_MANIFEST_SHA256"] = "0" * 64
    elif damage == "bad_version":
        env["MODEL_VERSION"] = "1; rm -rf /"
    elif damage == "missing_version":
        env["MODEL_VERSION"] = "2"
    result = fetch(tmp_path / "store", tmp_path / "models", **env)
    assert result.returncode != 0
    assert message in result.stderr
    installed = tmp_path / "models" / "inception_v1"
    assert not (installed / "1").exists(), "a rejected version must never become visible"
