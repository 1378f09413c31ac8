"""k8s/base/fetch-model.sh --watch, the serving pod's model-sync sidecar, run for real with
/bin/sh against a local directory standing in for the bucket (as test_fetch_model.py does
for the init container).

The sidecar runs as a background process with a short interval, its wanted versions in a
directory laid out like the mounted model-source ConfigMap (one file per key, edited in
place as the kubelet does after `kubectl apply`); each test waits on what TF Serving would
see: the numeric version dirs under the model root, never a partial or unverified one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from inception_svm_export.integrity import MANIFEST_FILE, file_sha256
from tests.k8s.test_fetch_model import FILES, SCRIPT, write_version

WAIT_S = 20
INTERVAL_S = "0.2"


def set_source(config_dir: Path, versions: str, pins: str = "") -> None:
    """What a ConfigMap update does to the mounted files (written whole, then swapped)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    for key, value in (("MODEL_VERSIONS", versions), ("MODEL_MANIFEST_SHA256S", pins)):
        tmp = config_dir / f".{key}"
        tmp.write_text(value)
        tmp.replace(config_dir / key)


@contextlib.contextmanager
def sidecar(store: Path, target: Path, config_dir: Path) -> Iterator[subprocess.Popen[str]]:
    env = {
        "PATH": os.environ["PATH"],
        "MODEL_SOURCE_DIR": str(store),
        "MODEL_TARGET_DIR": str(target),
        "MODEL_NAME": "inception_v1",
        "MODEL_SOURCE_CONFIG_DIR": str(config_dir),
        "MODEL_SYNC_INTERVAL_S": INTERVAL_S,
        "MODEL_SYNC_HEARTBEAT": str(target / ".heartbeat"),
        # These tests are about syncing; the ones that pin still check their pins, the others
        # opt out of the pin requirement by name (tests/k8s/test_fetch_model_pinning.py).
        "ALLOW_UNPINNED_MODELS": "true",
    }
    process = subprocess.Popen(
        ["sh", str(SCRIPT), "--watch"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def visible(target: Path) -> list[str]:
    """The version dirs TF Serving's file-system source would count."""
    root = target / "inception_v1"
    return sorted(p.name for p in root.iterdir() if p.name.isdigit()) if root.is_dir() else []


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def rounds_pass(target: Path, count: int = 3) -> None:
    """Let the sidecar finish a few more rounds (its heartbeat is touched after each)."""
    heartbeat = target / ".heartbeat"
    for _ in range(count):
        wait_for(heartbeat.exists, "a heartbeat")
        heartbeat.unlink()
    wait_for(heartbeat.exists, "a heartbeat")


def pin(version_dir: Path) -> str:
    return f"{version_dir.name}={file_sha256(version_dir / MANIFEST_FILE)}"


def test_new_version_appears_verified_and_the_old_one_retires_after(tmp_path: Path) -> None:
    store, target, config = tmp_path / "store", tmp_path / "models", tmp_path / "config"
    v1 = write_version(store, "1")
    set_source(config, "1", pin(v1))
    with sidecar(store, target, config):
        wait_for(lambda: visible(target) == ["1"], "version 1")
        v2 = write_version(store, "2")
        set_source(config, "1 2", f"{pin(v1)} {pin(v2)}")
        wait_for(lambda: visible(target) == ["1", "2"], "version 2 beside 1")
        for rel, content in FILES.items():
            assert (target / "inception_v1" / "2" / rel).read_bytes() == content + b"2"
        set_source(config, "2", pin(v2))
        wait_for(lambda: visible(target) == ["2"], "version 1 retired")
    # No staging or retired leftovers next to the served version.
    assert sorted(p.name for p in (target / "inception_v1").iterdir()) == ["2"]


def test_torn_upload_stays_invisible_until_its_manifest_lands(tmp_path: Path) -> None:
    store, target, config = tmp_path / "store", tmp_path / "models", tmp_path / "config"
    write_version(store, "1")
    v2 = write_version(store, "2")
    manifest = (v2 / MANIFEST_FILE).read_bytes()
    (v2 / MANIFEST_FILE).unlink()  # the upload has not reached its last file yet
    set_source(config, "1 2")
    with sidecar(store, target, config) as process:
        wait_for(lambda: visible(target) == ["1"], "version 1")
        rounds_pass(target)
        assert visible(target) == ["1"]
        (v2 / MANIFEST_FILE).write_bytes(manifest)
        wait_for(lambda: visible(target) == ["1", "2"], "version 2 once complete")
    assert "has no SHA256SUMS manifest" in (process.stdout.read() if process.stdout else "")


def test_tampered_version_is_refused_and_never_visible(tmp_path: Path) -> None:
    store, target, config = tmp_path / "store", tmp_path / "models", tmp_path / "config"
    v1 = write_version(store, "1")
    v2 = write_version(store, "2")
    pins = f"{pin(v1)} {pin(v2)}"
    (v2 / "variables" / "variables.index").write_bytes(b"tampered")
    set_source(config, "1", pin(v1))
    with sidecar(store, target, config) as process:
        wait_for(lambda: visible(target) == ["1"], "version 1")
        set_source(config, "1 2", pins)
        rounds_pass(target)
        # Refused, and version 1 is not retired while a wanted version is missing.
        set_source(config, "2", pins)
        rounds_pass(target)
        assert visible(target) == ["1"]
        assert not [p for p in (target / "inception_v1").iterdir() if p.name.startswith(".")]
    assert "checksum mismatch" in (process.stdout.read() if process.stdout else "")


def test_unreachable_bucket_keeps_serving_what_is_there(tmp_path: Path) -> None:
    store, target, config = tmp_path / "store", tmp_path / "models", tmp_path / "config"
    v1 = write_version(store, "1")
    v2_pin = pin(write_version(store, "2"))
    set_source(config, "1", pin(v1))
    with sidecar(store, target, config) as process:
        wait_for(lambda: visible(target) == ["1"], "version 1")
        store.rename(tmp_path / "store-offline")  # the bucket is briefly unreachable
        set_source(config, "2", v2_pin)
        rounds_pass(target)
        assert visible(target) == ["1"]
        assert process.poll() is None, "the sidecar exited while the bucket was unreachable"
        (tmp_path / "store-offline").rename(store)
        wait_for(lambda: visible(target) == ["2"], "version 2 once the bucket is back")
    assert "no model version at" in (process.stdout.read() if process.stdout else "")


def test_bad_version_list_keeps_the_installed_versions(tmp_path: Path) -> None:
    store, target, config = tmp_path / "store", tmp_path / "models", tmp_path / "config"
    write_version(store, "1")
    set_source(config, "1")
    with sidecar(store, target, config) as process:
        wait_for(lambda: visible(target) == ["1"], "version 1")
        set_source(config, "1; rm -rf /")
        rounds_pass(target)
        set_source(config, " ")
        rounds_pass(target)
        assert visible(target) == ["1"]
        assert process.poll() is None
    output = process.stdout.read() if process.stdout else ""
    assert "must list positive integers" in output and "MODEL_VERSIONS is empty" in output
