"""The featurizer upgrade runbook of k8s/README.md ("Upgrading the featurizer"), driven step by
step against the real stand-in while two classify streams run throughout.

What stands for what: a local directory is the bucket; the serving pod's model-sync sidecar
is k8s/base/fetch-model.sh --watch itself, reading its wanted versions from a directory laid
out like the mounted model-source ConfigMap; the server is the stand-in on free ports with
the model config the runbook prescribes (`latest { num_versions: 2 }`, file-system poll 1 s),
so versions come and go through the model directory alone, never a restart. Each stream is
a client fleet: rounds of the real `inception-svm classify` CLI, each pinned to the version
its SVM was trained on (the CLI's default), rolled from SVM v1 to SVM v2 between rounds.

Asserted: no input without its record (0 lost), no record from another version than its
SVM's (0 mixed), version 1 removed only after the last v1 record, and served again by
nobody afterwards. The counts are printed (`pytest -s`) for the closing note.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inception_svm_client.records import OK
from inception_svm_export.integrity import MANIFEST_FILE, file_sha256
from tests.harness import ServerHandle, running_server, subprocess_env
from tests.paths import CARS_DIR, REPO_ROOT, car_photos

pytestmark = pytest.mark.slow

SYNC_SCRIPT = REPO_ROOT / "k8s" / "base" / "fetch-model.sh"
MODEL = "inception_v1"
IMAGES_PER_ROUND = 6
WAIT_S = 180
# Clients are not a tight loop; this bounds the rounds (and images) the test classifies.
ROUND_PAUSE_S = 3.0
MODEL_CONFIG = """model_config_list {{
  config {{
    name: "{name}"
    base_path: "{base_path}"
    model_platform: "tensorflow"
    model_version_policy {{ latest {{ num_versions: 2 }} }}
  }}
}}
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inception_svm_client.cli", *args],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def version_states(server: ServerHandle) -> dict[int, str]:
    with urllib.request.urlopen(f"{server.rest_url}/v1/models/{MODEL}", timeout=10) as reply:
        body = json.loads(reply.read())
    return {int(s["version"]): s["state"] for s in body["model_version_status"]}


def export_version(checkpoint_seed: int, version: int, tmp: Path) -> Path:
    """What the exporter Job writes before its upload: the version dir with SHA256SUMS."""
    from inception_svm_export.export_config import ExportConfig
    from inception_svm_export.random_checkpoint import write_random_checkpoint
    from inception_svm_export.saved_model import export_saved_model

    checkpoint = write_random_checkpoint(
        tmp / f"ckpt-{version}" / "inception_v1.ckpt", fmt="v1", seed=checkpoint_seed
    )
    base = tmp / f"export-{version}" / MODEL
    export_saved_model(
        ExportConfig(
            checkpoint=str(checkpoint),
            model_dir=base,
            version=version,
            fold_batchnorm=True,
            cache_dir=tmp / "cache",
            show_progress=False,
        )
    )
    return base / str(version)


def train(server: ServerHandle, output: Path, *flags: str) -> Path:
    result = cli("train", str(CARS_DIR / "train"), "--server", server.grpc_target,
                 "--output", str(output), "--no-progress", *flags)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return output


class ModelSource:
    """The model-source ConfigMap as the sidecar sees it: files swapped whole, like the
    kubelet's atomic update of a mounted ConfigMap."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True)

    def set(self, versions: dict[str, Path]) -> None:
        pins = " ".join(f"{v}={file_sha256(d / MANIFEST_FILE)}" for v, d in versions.items())
        for key, value in (
            ("MODEL_VERSIONS", " ".join(versions)),
            ("MODEL_MANIFEST_SHA256S", pins),
        ):
            tmp = self.directory / f".{key}"
            tmp.write_text(value)
            tmp.replace(self.directory / key)


@dataclasses.dataclass(frozen=True)
class Round:
    """One classify run of a stream: the SVM it used, its inputs and its records."""

    svm: Path
    inputs: list[str]
    records: list[dict[str, Any]]
    ended: float


class Stream(threading.Thread):
    """One client fleet: classify rounds over its own images, with whichever SVM it is
    currently rolled to; every round's inputs, records and versions are kept."""

    def __init__(self, name: str, target: str, images: list[Path], svm: Path, out: Path):
        super().__init__(name=name, daemon=True)
        self.target, self.images, self.svm, self.out = target, images, svm, out
        self.stop = threading.Event()
        self.rounds: list[Round] = []
        self.errors: list[str] = []

    def run(self) -> None:
        index = 0
        while not self.stop.is_set():
            svm = self.svm
            start = index * IMAGES_PER_ROUND % len(self.images)
            batch = [str(p) for p in (self.images * 2)[start : start + IMAGES_PER_ROUND]]
            output = self.out / f"{self.name}-{index}.jsonl"
            result = cli(
                "classify", *batch, "--svm", str(svm), "--server", self.target,
                "--output", str(output), "--no-progress",
            )  # fmt: skip
            lines = output.read_text().splitlines() if output.exists() else []
            if result.returncode != 0:
                self.errors.append(f"round {index}: exit {result.returncode}: {result.stderr}")
            self.rounds.append(Round(svm, batch, [json.loads(x) for x in lines], time.monotonic()))
            index += 1
            self.stop.wait(ROUND_PAUSE_S)

    def wait_rounds(self, count: int, what: str) -> None:
        """Until ``count`` more rounds have finished (with whatever SVM is set now)."""
        target = len(self.rounds) + count
        wait_for(lambda: len(self.rounds) >= target, f"stream {self.name}: {what}")


def stop(streams: list[Stream]) -> None:
    """Let each stream finish the round in flight, then end it."""
    for stream in streams:
        stream.stop.set()
    for stream in streams:
        stream.join(timeout=WAIT_S)


def start_sidecar(bucket: Path, served: Path, source: ModelSource) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ["PATH"],
        "MODEL_SOURCE_DIR": str(bucket),
        "MODEL_TARGET_DIR": str(served),
        "MODEL_NAME": MODEL,
        "MODEL_SOURCE_CONFIG_DIR": str(source.directory),
        "MODEL_SYNC_INTERVAL_S": "0.5",
    }
    return subprocess.Popen(
        ["sh", str(SYNC_SCRIPT), "--watch"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_featurizer_upgrade_loses_and_mixes_nothing(model_base_path: Path, tmp_path: Path) -> None:
    bucket, served, out = tmp_path / "bucket", tmp_path / "models", tmp_path / "records"
    out.mkdir()
    source = ModelSource(tmp_path / "model-source")
    v1 = bucket / MODEL / "1"
    shutil.copytree(model_base_path / "1", v1)
    source.set({"1": v1})
    # The exporter Job's work for v2 (another checkpoint: another featurizer), done before
    # the clock starts; publishing it below is its upload into the bucket.
    export_v2 = export_version(1, 2, tmp_path)
    sync = start_sidecar(bucket, served, source)
    streams: list[Stream] = []
    try:
        wait_for(lambda: (served / MODEL / "1").is_dir(), "version 1 installed")
        config = tmp_path / "models.config"
        config.write_text(MODEL_CONFIG.format(name=MODEL, base_path=served / MODEL))
        with running_server(
            model_config_file=config, extra_flags=["--file_system_poll_wait_seconds=1"]
        ) as server:
            # Before: SVM v1, trained against version 1 (recorded in its metadata).
            svm_v1 = train(server, tmp_path / "svm-v1.onnx")
            photos = car_photos()
            streams = [
                Stream("a", server.grpc_target, photos[: len(photos) // 2], svm_v1, out),
                Stream("b", server.grpc_target, photos[len(photos) // 2 :], svm_v1, out),
            ]
            for stream in streams:
                stream.start()
            for stream in streams:
                stream.wait_rounds(1, "v1 round")

            # 1. Publish v2 (the upload, SHA256SUMS last) and 2. serve v1 and v2 together.
            v2 = bucket / MODEL / "2"
            shutil.copytree(export_v2, v2)
            source.set({"1": v1, "2": v2})
            wait_for(lambda: version_states(server).get(2) == "AVAILABLE", "version 2 loaded")
            assert version_states(server).get(1) == "AVAILABLE"

            # 3. The SVM trained against version 2, pinned explicitly.
            svm_v2 = train(server, tmp_path / "svm-v2.onnx", "--model-version", "2")

            # 4. Roll the client fleets to SVM v2, one after the other (the round in flight
            # finishes with the SVM it started with).
            for stream in streams:
                stream.svm = svm_v2
                stream.wait_rounds(2, "rolled to SVM v2")

            # 5. Tell that no client uses v1 any more: the records' model_version.
            recent = [r for s in streams for r in s.rounds[-1].records]
            assert {r["model_version"] for r in recent} == {2}
            # 6. Retire v1.
            retired_at = time.monotonic()
            source.set({"2": v2})
            wait_for(lambda: version_states(server).get(1) in (None, "END"), "v1 retired")
            for stream in streams:
                stream.wait_rounds(1, "round after v1 retired")
            stop(streams)  # before the server goes
    finally:
        stop(streams)
        sync.send_signal(signal.SIGTERM)
        sync.wait(timeout=10)

    inputs = records = lost = mixed = 0
    per_version: Counter[int] = Counter()
    last_v1_end = 0.0
    for stream in streams:
        assert stream.errors == []
        for round_ in stream.rounds:
            expected = 1 if round_.svm == svm_v1 else 2
            got = {r["path"]: r for r in round_.records}
            inputs += len(round_.inputs)
            records += len(round_.records)
            lost += sum(1 for p in round_.inputs if p not in got or got[p]["status"] != OK)
            for record in round_.records:
                per_version[record["model_version"]] += 1
                if record["model_version"] != expected or record.get("flag") is not None:
                    mixed += 1
            if expected == 1:
                last_v1_end = max(last_v1_end, round_.ended)
    print(
        f"\nfeaturizer upgrade: streams={len(streams)} "
        f"rounds={[len(s.rounds) for s in streams]} inputs={inputs} records={records} "
        f"per_version={dict(sorted(per_version.items()))} lost={lost} mixed={mixed}"
    )
    assert lost == 0 and mixed == 0 and records == inputs
    assert per_version[1] > 0 and per_version[2] > 0
    assert last_v1_end < retired_at, "version 1 was retired while a client still used it"
    assert not (served / MODEL / "1").exists() and (served / MODEL / "2").is_dir()
