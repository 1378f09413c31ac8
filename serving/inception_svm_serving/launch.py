"""``make serve``: run the documented production command line locally.

Reads ``serving/tensorflow_model_server.args`` (the exact flags of the container), maps the
container's ``/config/`` to the local ``serving/`` directory, renders a copy of models.config
whose base_path is the local model directory, then execs ``tensorflow_model_server`` when it
is on PATH, else the stand-in with the same flags. Flags on this command line override the
file's; ``--model_base_path`` (default ``build/models/inception_v1``) picks the local model.
A local run listens on loopback only: the stand-in gets ``--bind_address=127.0.0.1`` unless
the command line says otherwise (``--bind_address=0.0.0.0`` to expose it). The real
tensorflow_model_server has no such flag and always binds all interfaces.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

SERVING_DIR = Path(__file__).resolve().parents[1]
ARGS_FILE = SERVING_DIR / "tensorflow_model_server.args"
CONTAINER_CONFIG_DIR = "/config/"
DEFAULT_MODEL_BASE_PATH = Path("build/models/inception_v1")
REAL_SERVER = "tensorflow_model_server"
LOCAL_BIND_ADDRESS = "--bind_address=127.0.0.1"


def read_args_file(path: Path = ARGS_FILE) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def flag_name(flag: str) -> str:
    return flag.split("=", 1)[0]


def merge_flags(base: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """File flags with command-line overrides applied by flag name (``--name=value`` form)."""
    overridden = {flag_name(f) for f in overrides}
    return [f for f in base if flag_name(f) not in overridden] + list(overrides)


def render_model_config(source: Path, model_base_path: Path, target: Path) -> Path:
    """models.config with every model's base_path pointed at the local model directory."""
    config = text_format.Parse(source.read_text(), model_server_config_pb2.ModelServerConfig())
    for model in config.model_config_list.config:
        model.base_path = str(model_base_path.resolve())
    target.write_text(text_format.MessageToString(config))
    return target


def model_base_path_of(argv: Sequence[str]) -> Path:
    base_paths = [a.split("=", 1)[1] for a in argv if flag_name(a) == "--model_base_path"]
    return Path(base_paths[-1]) if base_paths else DEFAULT_MODEL_BASE_PATH


def launch_notices(argv: Sequence[str], real_server: str | None) -> list[str]:
    """Which server runs, and a missing model directory: both servers start without
    complaint on a path that does not exist and then serve nothing, which looks like a hang."""
    notices = [
        f"launch: serving with {real_server}"
        if real_server is not None
        else f"launch: {REAL_SERVER} is not on PATH: serving with the stand-in "
        "(inception-svm serve; same flags, config files and API)"
    ]
    model_base_path = model_base_path_of(argv)
    if not model_base_path.is_dir():
        notices.append(
            f"launch: warning: {model_base_path} does not exist: the server will serve nothing "
            "until a version directory appears there (make demo or inception-svm export "
            "writes one; MODEL_DIR=... chooses the path)"
        )
    return notices


def local_command(argv: Sequence[str], real_server: str | None, work_dir: Path) -> list[str]:
    overrides = [a for a in argv if flag_name(a) != "--model_base_path"]
    model_base_path = model_base_path_of(argv)
    flags = []
    for flag in merge_flags(read_args_file(), overrides):
        name, _, value = flag.partition("=")
        if value.startswith(CONTAINER_CONFIG_DIR):
            value = str(SERVING_DIR / value[len(CONTAINER_CONFIG_DIR) :])
        if name == "--model_config_file":
            rendered = render_model_config(Path(value), model_base_path, work_dir / "models.config")
            value = str(rendered)
        flags.append(f"{name}={value}" if value else name)
    if real_server is not None:
        return [real_server, *(f for f in flags if flag_name(f) != "--bind_address")]
    return [
        sys.executable,
        "-m",
        "inception_svm_serving",
        *merge_flags([LOCAL_BIND_ADDRESS], flags),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    work_dir = Path(tempfile.mkdtemp(prefix="inception-svm-serve-"))
    real_server = shutil.which(REAL_SERVER)
    for notice in launch_notices(args, real_server):
        print(notice, file=sys.stderr, flush=True)
    command = local_command(args, real_server, work_dir)
    print("exec:", " ".join(command), file=sys.stderr, flush=True)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
