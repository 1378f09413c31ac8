"""``inception-svm demo``: checkpoint → SavedModel → server → ImageNet check on a cat → train
on 20 photos → classify 7, end to end.

It sits in the top layer because it drives all three others: the exporter, a server started
by the serving package's process helper exactly as ``make serve`` would (the real
``tensorflow_model_server`` when on PATH, else the stand-in), and the thin client's own
commands run in-process. The export runs as ``inception-svm export`` in a child process, the
command a user types, so that TensorFlow's memory (the graph, the checkpoint) is returned
before the server loads its own copy and this process stays a client. The server is always
stopped, also on errors and Ctrl-C.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from inception_svm_client.cli import main as cli_main
from inception_svm_client.commands import EXIT_USAGE
from inception_svm_client.inputs import bundled_cars_dir, bundled_cat_photo
from inception_svm_export.exceptions import DemoError
from inception_svm_serving import ServerProcess, ServerStartError, launched_command

READY_TIMEOUT_S = 300.0
RANDOM_BANNER = """
###########################################################################
#  WEIGHTS=random: the Inception checkpoint is RANDOM NOISE.              #
#  The pipeline runs end to end, but every label and distance of this     #
#  run is MEANINGLESS. Use the official checkpoint for real predictions.  #
###########################################################################
"""
OFFLINE_HELP = """could not obtain the official checkpoint {checkpoint}
(no internet access?). To proceed:
  - make demo WEIGHTS=random     (same pipeline, random weights, meaningless predictions)
  - make demo CHECKPOINT=/path/to/inception_v1_2016_08_28.tar.gz
                                 (a copy downloaded elsewhere from the URL above)"""


def _child_env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def run_step(what: str, command: Sequence[str]) -> int:
    print(f"==> {what}: {' '.join(command)}", flush=True)
    return subprocess.run(command, env=_child_env(), check=False).returncode


def ensure_saved_model(weights: str, checkpoint: str, model_dir: Path, work_dir: Path) -> None:
    if (model_dir / "1" / "saved_model.pb").exists():
        print(f"==> reusing the SavedModel in {model_dir / '1'}", flush=True)
        return
    if weights == "random":
        checkpoint = str(work_dir / "random" / "inception_v1.ckpt")
        if not Path(checkpoint).exists():
            command = [sys.executable, "-m", "inception_svm_export.random_checkpoint", checkpoint]
            if run_step("random checkpoint", command) != 0:
                raise DemoError("could not generate the random checkpoint")
    export = [sys.executable, "-m", "inception_svm_client", "export"]
    export += ["--checkpoint", checkpoint, "--model-dir", str(model_dir), "--version", "1"]
    if run_step("export", export) != 0:
        if weights == "official" and "://" in checkpoint:
            raise DemoError(OFFLINE_HELP.format(checkpoint=checkpoint))
        raise DemoError(f"export of {checkpoint} failed (see above)")


def client_steps(target: str, svm_path: Path, report: Path, training_report: Path) -> int:
    """The thin client's commands, as a user runs them against the served model."""
    cars = bundled_cars_dir()
    # The original talk's first step: does the network see the cat? (With the official
    # weights the top-5 are cat classes; the last line says which weights answered.)
    cat = bundled_cat_photo()
    print(f"==> ImageNet top-5 of {cat.name}", flush=True)
    if cli_main(["imagenet", str(cat), "--server", target, "--top", "5", "--format", "table"]):
        raise DemoError("the ImageNet check failed (see above)")
    print(f"==> train on {cars / 'train'}", flush=True)
    if cli_main(["train", str(cars / "train"), "--server", target, "--output", str(svm_path)]):
        raise DemoError("training failed (see above)")
    print(f"==> classify {cars / 'unlabeled'}", flush=True)
    classify = ["classify", str(cars / "unlabeled"), "--server", target]
    classify += ["--svm", str(svm_path), "--format", "table", "--report", str(report)]
    classify += ["--training-report", str(training_report)]
    return cli_main(classify)


def run_demo(weights: str, checkpoint: str, model_dir: Path, work_dir: Path) -> int:
    if weights == "random":
        print(RANDOM_BANNER, flush=True)
        model_dir = model_dir.with_name(model_dir.name + "-random")
    work_dir.mkdir(parents=True, exist_ok=True)
    report = work_dir / "report.html"
    try:
        ensure_saved_model(weights, checkpoint, model_dir, work_dir)
        server = ServerProcess(
            launched_command([f"--model_base_path={model_dir.resolve()}"]),
            log_path=work_dir / "server.log",
            env=_child_env(),
            ready_timeout_s=READY_TIMEOUT_S,
        )
        print(f"==> server (log: {server.log_path}): {' '.join(server.command)}", flush=True)
        with server:
            code = client_steps(
                server.grpc_target, work_dir / "svm.onnx", report, work_dir / "svm.training.json"
            )
        print("==> server stopped", flush=True)
    except (DemoError, ServerStartError) as error:
        # Printed, not logged: the client commands run above re-point the CLI's log prefix.
        print(f"inception-svm demo: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if weights == "random":
        print(RANDOM_BANNER, flush=True)
    print(f"HTML report: {report}", flush=True)
    print(next_commands(model_dir, work_dir / "svm.onnx"), flush=True)
    return code


def next_commands(model_dir: Path, svm_path: Path) -> str:
    """What to type next, with the paths this run wrote: the README's walk-through uses the
    same ones, so a reader goes on from the demo without translating paths."""
    return (
        "Next (README, 'Local walk-through'):\n"
        f"  make serve MODEL_DIR={model_dir}      # gRPC :8500, REST :8501; leave it running\n"
        "  .venv/bin/inception-svm classify client/inception_svm_client/data/cars/unlabeled "
        f"--server localhost:8500 --svm {svm_path} --format table\n"
        "  .venv/bin/inception-svm verify --server localhost:8500 "
        f"--model-dir {model_dir} --svm {svm_path}"
    )
