"""``make serve`` (``launch.py``): the container's command line, mapped to this checkout."""

from __future__ import annotations

import sys
from pathlib import Path

from inception_svm_serving.config.flags import options_from_args
from inception_svm_serving.config.options import load_model_config_file
from inception_svm_serving.launch import local_command
from tests.harness import BATCHING_PARAMETERS
from tests.serving.config.test_flags import parse


def test_launch_maps_container_paths_and_overrides(tmp_path: Path) -> None:
    command = local_command(["--port=9000", f"--model_base_path={tmp_path}"], None, tmp_path)
    assert command[:3] == [sys.executable, "-m", "inception_svm_serving"]
    flags = command[3:]
    assert "--port=9000" in flags and "--port=8500" not in flags
    assert f"--batching_parameters_file={BATCHING_PARAMETERS}" in flags
    (model,) = load_model_config_file(tmp_path / "models.config")
    assert model.base_path == tmp_path.resolve()
    assert local_command([], "/usr/bin/tensorflow_model_server", tmp_path)[0].endswith(
        "tensorflow_model_server"
    )


def test_local_runs_bind_loopback_and_containers_all_interfaces(tmp_path: Path) -> None:
    """TF Serving binds 0.0.0.0 (a container needs it); make serve / launch / the demo bind
    loopback unless told otherwise; the real server gets no flag it does not know."""
    flags = local_command([f"--model_base_path={tmp_path}"], None, tmp_path)[3:]
    assert "--bind_address=127.0.0.1" in flags
    exposed = local_command(["--bind_address=0.0.0.0"], None, tmp_path)[3:]
    assert "--bind_address=0.0.0.0" in exposed and "--bind_address=127.0.0.1" not in exposed
    real = local_command(["--bind_address=0.0.0.0"], "/usr/bin/tensorflow_model_server", tmp_path)
    assert not any(flag.startswith("--bind_address") for flag in real)
    options = options_from_args(parse(["--model_base_path=/m", "--bind_address=0.0.0.0"]))
    assert options.host == "0.0.0.0"
    assert dict(options.grpc_channel_arguments)["grpc.so_reuseport"] == 0
