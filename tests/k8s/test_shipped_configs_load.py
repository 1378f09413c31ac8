"""Every shipped serving configuration loads the model the exporter Job makes.

For each overlay and example under k8s/ whose render runs the serving container, the
stand-in is started with exactly the rendered ``tensorflow_model_server`` args and the
rendered ConfigMap files (container paths remapped to temp dirs), on an export made exactly
as the rendered exporter Job makes it (its args, with the checkpoint, output and cache dirs
and the image's /opt/inception-svm/serving/ remapped; the Job in the same render, else
k8s/examples/exporter-job), with every version the pod installs (MODEL_VERSIONS), and must
report every model AVAILABLE. The stand-in's load path applies tensorflow_model_server's
load-time rules (docs/tf-serving-load-rules.md), so a batching file or a warmup that the real
server would refuse fails here.

New examples are covered without editing this test (k8s/examples/*/kustomization.yaml).
Time stays bounded: exports are shared between renders with identical exporter args, and a
render whose remapped inputs equal an already proven one's is not started again.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from inception_svm_serving.config.options import load_model_config_file
from inception_svm_serving.process import ServerProcess, stand_in_command
from tests.harness import LOCALHOST, subprocess_env
from tests.k8s.kustomize import K8S_DIR, OVERLAYS, Manifest, example_dirs, render
from tests.k8s.objects import config_map_data, containers, serving_container
from tests.k8s.serving_policy import SERVING_CONFIGMAP_PREFIX
from tests.paths import REPO_ROOT, SERVING_DIR
from tests.reliability.certs import make_test_pki, ssl_config_text

RENDER_DIRS = [K8S_DIR / "overlays" / o for o in OVERLAYS] + example_dirs()
EXPORTER_JOB_DIR = K8S_DIR / "examples" / "exporter-job"
IMAGE_SERVING_DIR = "/opt/inception-svm/serving/"
MODELS_MOUNT = "/models/"
CONFIG_MOUNT = "/config/"
EXPORT_TIMEOUT_S = 900
READY_TIMEOUT_S = 300

_exports: dict[tuple[str, ...], Path] = {}
_proven: dict[str, str] = {}  # remapped inputs digest -> the render that proved them


def _label(path: Path) -> str:
    return str(path.relative_to(K8S_DIR))


def _exporter_args(objects: tuple[Manifest, ...]) -> tuple[list[str], dict[str, str]]:
    """The exporter container's args and env: from this render, else the exporter Job's."""
    for source in (objects, render(EXPORTER_JOB_DIR)):
        for ref in containers(source):
            args = [str(a) for a in ref.container.get("args") or []]
            if args[:1] == ["export"]:
                env = {e["name"]: str(e.get("value", "")) for e in ref.container.get("env") or []}
                return args, env
    raise AssertionError("no exporter container in the render nor in k8s/examples/exporter-job")


def _remapped_export_flags(args: list[str], env: dict[str, str], checkpoint: Path) -> list[str]:
    flags = []
    for arg in args[1:]:
        arg = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg)
        name, _, _value = arg.partition("=")
        if name == "--checkpoint":
            arg = f"--checkpoint={checkpoint}"
        elif name in ("--model-dir", "--cache-dir"):
            continue  # set per export below
        flags.append(arg.replace(IMAGE_SERVING_DIR, f"{SERVING_DIR}/"))
    return flags


def _export(flags: list[str], work: Path) -> Path:
    """One export per distinct flag set; returns its version directory."""
    key = tuple(flags)
    if key not in _exports:
        out = work / f"export-{len(_exports)}"
        command = [
            str(Path(sys.executable).parent / "inception-svm"),
            "export",
            *flags,
            f"--model-dir={out / 'model'}",
            f"--cache-dir={work / 'cache'}",
        ]
        result = subprocess.run(
            command,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=EXPORT_TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr[-4000:]}"
        _exports[key] = Path(result.stdout.strip().splitlines()[-1])
    return _exports[key]


def _server_files(
    objects: tuple[Manifest, ...], args: list[str], work: Path
) -> tuple[list[str], Path]:
    """The ConfigMap's files and any other mounted file the args name, written under
    ``work``; returns the args pointing at them and the models dir (the pod's /models)."""
    data = config_map_data(objects, SERVING_CONFIGMAP_PREFIX)
    assert data, f"no {SERVING_CONFIGMAP_PREFIX} ConfigMap in the render"
    config_dir, models_dir = work / "config", work / "models"
    config_dir.mkdir(parents=True)
    models_dir.mkdir()
    for key, content in data.items():
        text = content.replace(f'"{MODELS_MOUNT}', f'"{models_dir}/')
        (config_dir / key).write_text(text)
    remapped = []
    for arg in args:
        name, _, value = arg.partition("=")
        if name == "--ssl_config_file":  # the user's Secret: a test PKI in its place
            pki = make_test_pki(work / "pki")
            ssl = work / "ssl_config.pbtxt"
            ssl.write_text(ssl_config_text(pki, client_verify=False))
            arg = f"{name}={ssl}"
        elif value.startswith(CONFIG_MOUNT):
            arg = f"{name}={config_dir}/{value[len(CONFIG_MOUNT) :]}"
        remapped.append(arg)
    return remapped, models_dir


def _digest(args: list[str], work: Path, versions: list[str], export: Path) -> str:
    """What the load depends on: args (minus ports and temp paths), files, versions, export."""
    text = json.dumps(
        {
            "args": [a.replace(str(work), "WORK") for a in args],
            "files": {
                p.name: p.read_text().replace(str(work), "WORK")
                for p in sorted((work / "config").iterdir())
            },
            "versions": versions,
            "export": str(export),
        }
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _aspired(args: list[str], versions: list[str]) -> dict[str, list[str]]:
    """Model name -> the installed versions its version policy serves."""
    (config,) = [a.partition("=")[2] for a in args if a.startswith("--model_config_file=")]
    installed = sorted(int(v) for v in versions)
    return {
        m.name: [str(v) for v in m.policy.select(installed)]
        for m in load_model_config_file(Path(config))
    }


def _wait_available(url: str, versions: list[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        with urllib.request.urlopen(url, timeout=30) as reply:
            states = {s["version"]: s["state"] for s in json.load(reply)["model_version_status"]}
        if states == dict.fromkeys(versions, "AVAILABLE"):
            return
        assert time.monotonic() < deadline and "END" not in states.values(), states
        time.sleep(1)


@pytest.mark.parametrize("render_dir", RENDER_DIRS, ids=_label)
def test_shipped_configuration_loads_the_exported_model(
    render_dir: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    random_checkpoint_v1: Path,
) -> None:
    objects = render(render_dir)
    ref = serving_container(objects)
    if ref is None:
        pytest.skip(f"{_label(render_dir)} runs no serving container")
    assert ref.container.get("command") == ["tensorflow_model_server"]
    args, env = _exporter_args(objects)
    export_flags = _remapped_export_flags(args, env, random_checkpoint_v1)
    exports_dir = tmp_path_factory.getbasetemp() / "shipped-exports"
    exports_dir.mkdir(exist_ok=True)
    version_dir = _export(export_flags, exports_dir)

    server_args, models_dir = _server_files(
        objects, [str(a) for a in ref.container["args"]], tmp_path
    )
    source: dict[str, Any] = config_map_data(objects, "model-source") or {}
    versions = str(source.get("MODEL_VERSIONS", "1")).split()
    for version in versions:  # what the pod's init containers install
        shutil.copytree(version_dir, models_dir / "inception_v1" / version)

    digest = _digest(server_args, tmp_path, versions, version_dir)
    if digest in _proven:
        return  # the same inputs as a render proven above: the same load
    flags = [a for a in server_args if not a.startswith(("--port=", "--rest_api_port="))]
    command = stand_in_command(flags, host=LOCALHOST)
    with ServerProcess(
        command,
        env=subprocess_env(),
        cwd=REPO_ROOT,
        ready_timeout_s=READY_TIMEOUT_S,
        log_path=tmp_path / "server.log",
    ) as server:
        # Ready means a version of each model is AVAILABLE (TF Serving's startup wait);
        # every version the policy aspires (both canary versions) must get there too.
        for name, aspired in _aspired(server_args, versions).items():
            _wait_available(f"{server.rest_url}/v1/models/{name}", aspired)
    _proven[digest] = _label(render_dir)
