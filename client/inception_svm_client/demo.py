"""``make demo``: checkpoint → SavedModel → server → train on 20 photos → classify 7.

Export and serving run as subprocesses (``inception-svm export``, ``inception_svm_serving
.launch``) so this module, part of the thin client, never imports TensorFlow itself; the
full install provides those commands. The server is always stopped, also on errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from inception_svm_client.cli import main as cli_main
from inception_svm_client.commands import EXIT_USAGE
from inception_svm_client.errors import ClientError
from inception_svm_client.featurizer import Featurizer
from inception_svm_client.featurizer_config import ChannelConfig, FeaturizerConfig, RetryPolicy
from inception_svm_client.inputs import bundled_cars_dir, bundled_cat_photo

READY_TIMEOUT_S = 300.0
RANDOM_BANNER = """
###########################################################################
#  WEIGHTS=random: the Inception checkpoint is RANDOM NOISE.              #
#  The pipeline runs end to end, but every label and distance of this     #
#  run is MEANINGLESS. Use the official checkpoint for real predictions.  #
###########################################################################
"""
OFFLINE_HELP = """
error: could not obtain the official checkpoint {checkpoint}
(no internet access?). To proceed:
  - make demo WEIGHTS=random     (same pipeline, random weights, meaningless predictions)
  - make demo CHECKPOINT=/path/to/inception_v1_2016_08_28.tar.gz
                                 (a copy downloaded elsewhere from the URL above)
"""


class DemoError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_step(what: str, command: Sequence[str]) -> int:
    print(f"==> {what}: {' '.join(command)}", flush=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(command, env=env, check=False).returncode


def ensure_saved_model(weights: str, checkpoint: str, model_dir: Path, work_dir: Path) -> None:
    if (model_dir / "1" / "saved_model.pb").exists():
        print(f"==> reusing the SavedModel in {model_dir / '1'}")
        return
    if weights == "random":
        checkpoint = str(work_dir / "random" / "inception_v1.ckpt")
        if not Path(checkpoint).exists():
            command = [sys.executable, "-m", "inception_svm_export.random_checkpoint", checkpoint]
            if run_step("random checkpoint", command) != 0:
                raise DemoError("could not generate the random checkpoint")
    export = [sys.executable, "-m", "inception_svm_client.cli", "export"]
    export += ["--checkpoint", checkpoint, "--model-dir", str(model_dir), "--version", "1"]
    if run_step("export", export) != 0:
        if weights == "official" and "://" in checkpoint:
            raise DemoError(OFFLINE_HELP.format(checkpoint=checkpoint))
        raise DemoError(f"export of {checkpoint} failed (see above)")


def wait_until_ready(process: subprocess.Popen[bytes], target: str, log: Path) -> None:
    config = FeaturizerConfig(deadline_s=5, retry=RetryPolicy(max_attempts=1))
    deadline = time.monotonic() + READY_TIMEOUT_S
    with Featurizer.connect(ChannelConfig(target=target), config) as featurizer:
        while True:
            if process.poll() is not None:
                raise DemoError(f"the server exited with code {process.returncode}; see {log}")
            try:
                featurizer.fetch_signature()
                return
            except ClientError as error:
                if time.monotonic() > deadline:
                    message = f"server not ready after {READY_TIMEOUT_S:.0f} s: {error}"
                    raise DemoError(message) from None
            time.sleep(1)


@contextlib.contextmanager
def running_server(model_dir: Path, work_dir: Path) -> Iterator[str]:
    port, rest_port = free_port(), free_port()
    log = work_dir / "server.log"
    command = [sys.executable, "-m", "inception_svm_serving.launch", f"--port={port}"]
    command += [f"--rest_api_port={rest_port}", f"--model_base_path={model_dir.resolve()}"]
    print(f"==> server (log: {log}): {' '.join(command)}", flush=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    target = f"127.0.0.1:{port}"
    try:
        wait_until_ready(process, target, log)
        yield target
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        print("==> server stopped")


def run_demo(weights: str, checkpoint: str, model_dir: Path, work_dir: Path) -> int:
    if weights == "random":
        print(RANDOM_BANNER)
        model_dir = model_dir.with_name(model_dir.name + "-random")
    work_dir.mkdir(parents=True, exist_ok=True)
    cars = bundled_cars_dir()
    svm_path = work_dir / "svm.onnx"
    training_report = work_dir / "svm.training.json"
    report = work_dir / "report.html"
    try:
        ensure_saved_model(weights, checkpoint, model_dir, work_dir)
        with running_server(model_dir, work_dir) as target:
            # The original talk's first step: does the network see the cat? (With the official
            # weights the top-5 are cat classes; the last line says which weights answered.)
            cat = bundled_cat_photo()
            print(f"==> ImageNet top-5 of {cat.name}", flush=True)
            imagenet = ["imagenet", str(cat), "--server", target, "--top", "5"]
            if cli_main([*imagenet, "--format", "table"]) != 0:
                raise DemoError("the ImageNet check failed (see above)")
            print(f"==> train on {cars / 'train'}", flush=True)
            train = ["train", str(cars / "train"), "--server", target, "--output", str(svm_path)]
            if cli_main(train) != 0:
                raise DemoError("training failed (see above)")
            print(f"==> classify {cars / 'unlabeled'}", flush=True)
            classify = ["classify", str(cars / "unlabeled"), "--server", target]
            classify += ["--svm", str(svm_path), "--format", "table", "--report", str(report)]
            classify += ["--training-report", str(training_report)]
            code = cli_main(classify)
    except DemoError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    if weights == "random":
        print(RANDOM_BANNER)
    print(f"HTML report: {report}")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inception_svm_client.demo")
    parser.add_argument("--weights", choices=("official", "random"), default="official")
    parser.add_argument(
        "--checkpoint",
        default="https://download.tensorflow.org/models/inception_v1_2016_08_28.tar.gz",
        help="official checkpoint tarball (URL or local file); ignored with --weights=random",
    )
    parser.add_argument("--model-dir", type=Path, default=Path("build/models/inception_v1"))
    parser.add_argument("--work-dir", type=Path, default=Path("build/demo"))
    args = parser.parse_args(argv)
    return run_demo(args.weights, args.checkpoint, args.model_dir, args.work_dir)


if __name__ == "__main__":
    sys.exit(main())
