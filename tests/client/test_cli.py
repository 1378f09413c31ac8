"""``inception-svm``'s conventions, through the command users type: ``main(argv)`` in process
where only the parser is involved, the console script or ``python -m`` where the entry
point itself is what is tested."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from importlib.metadata import EntryPoint, version
from pathlib import Path

import pytest

from inception_svm_client import cli
from tests.harness import ServerHandle, subprocess_env
from tests.paths import REPO_ROOT, unlabeled_photos

CLIENT_VERSION = version("inception-svm-client")


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exit:  # argparse: --help, --version, usage errors
        code = exit.code if isinstance(exit.code, int) else 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "command",
    [
        [str(REPO_ROOT / ".venv" / "bin" / "inception-svm"), "--version"],
        [sys.executable, "-m", "inception_svm_client", "--version"],
        [sys.executable, "-m", "inception_svm_client", "serve", "--version"],
    ],
    ids=["console-script", "python-m", "serve"],
)
def test_version_names_every_installed_part(command: list[str]) -> None:
    result = subprocess.run(
        command, capture_output=True, text=True, env=subprocess_env(), timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert f"inception-svm-client {CLIENT_VERSION}" in result.stdout
    assert "tensorflow-cpu" in result.stdout  # the full install is what the suite runs


def test_misspelled_flag_shows_the_subcommand_usage_and_the_closest_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    common = ["classify", "x.jpg", "--svm", "s.onnx"]
    code, _, err = run_main(capsys, *common, "--server", "h:1", "--batch-sise", "4")
    assert code == 2
    assert "usage: inception-svm classify" in err
    assert "inception-svm classify: error: unrecognized arguments: --batch-sise 4" in err
    assert "--batch-sise: did you mean --batch-size?" in err
    # A misspelled required flag: argparse reports it missing; the hint still comes.
    code, _, err = run_main(capsys, *common, "--servr", "h:1")
    assert code == 2
    assert "usage: inception-svm classify" in err
    assert "required: --server" in err and "--servr: did you mean --server?" in err


def test_help_shows_defaults_and_environment_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_main(capsys, "classify", "--help")
    help_text = " ".join(out.split())  # argparse wraps lines at the terminal width
    assert code == 0
    assert "--batch-size BATCH_SIZE (default: 32)" in help_text
    assert "--model-name MODEL_NAME [env: INCEPTION_SVM_MODEL_NAME] (default: inception_v1)" in (
        help_text
    )
    assert "[env: INCEPTION_SVM_SERVER]" in help_text
    assert "-v, --verbose" in help_text and "-q, --quiet" in help_text


def test_errors_are_prefixed_with_program_and_subcommand(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.onnx"
    code, out, err = run_main(
        capsys, "classify", "x.jpg", "--svm", str(missing), "--server", "127.0.0.1:1"
    )
    assert (code, out) == (2, "")
    assert err.startswith(f"inception-svm classify: error: cannot read {missing}")


def test_server_and_svm_from_environment_and_quiet_drops_progress_lines(
    stand_in: ServerHandle,
    trained_svm: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INCEPTION_SVM_SERVER", stand_in.grpc_target)
    monkeypatch.setenv("INCEPTION_SVM_SVM", str(trained_svm))
    photo = str(unlabeled_photos()[0])
    report = tmp_path / "report.html"
    code, out, err = run_main(capsys, "classify", photo, "--report", str(report))
    assert code == 0, err
    assert json.loads(out)["path"] == photo
    assert f"inception-svm classify: wrote {report}" in err
    code, out, err = run_main(capsys, "classify", photo, "--report", str(report), "-q")
    assert code == 0 and json.loads(out)["path"] == photo
    assert err == ""
    # A flag on the command line wins over the environment.
    code, _, err = run_main(capsys, "classify", photo, "--server", "127.0.0.1:1", "-q")
    assert code == 2 and "127.0.0.1:1" in err


def test_missing_server_says_flag_or_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("INCEPTION_SVM_SERVER", raising=False)
    code, _, err = run_main(capsys, "classify", "x.jpg", "--svm", "s.onnx")
    assert code == 2
    assert "usage: inception-svm classify" in err and "--server" in err


def test_thin_install_names_the_package_for_serve_export_and_demo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a ``pip install ./client`` sees: only the client's own entry points."""
    client_only = [
        EntryPoint(name, f"inception_svm_client.commands.{name}:COMMAND", "inception_svm.commands")
        for name in ("classify", "loadtest", "train")
    ]
    monkeypatch.setattr(cli, "entry_points", lambda group: client_only)
    for argv in (["serve", "--port", "8500"], ["export", "--model-dir", "m"], ["demo"]):
        code, _, err = run_main(capsys, *argv)
        assert code == 2
        assert f"inception-svm {argv[0]}: error: `inception-svm {argv[0]}` needs" in err
        assert "needs the full `inception-svm` distribution" in err
        assert "pip install ." in err
    code, out, _ = run_main(capsys, "--help")
    assert code == 0 and "needs the full `inception-svm` distribution" in out


def test_log_levels_apply_to_our_packages_not_to_library_chatter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """TensorFlow logs INFO lines through Python logging during an export; only -vv shows
    them, while our own INFO lines ("wrote ...") show by default and -q hides them."""
    own, library = logging.getLogger("inception_svm_client.x"), logging.getLogger("tensorflow")
    cli.configure_logging("inception-svm x", cli.log_level(verbose=0, quiet=0))
    own.info("wrote it")
    library.info("Assets written to: somewhere")
    library.warning("deprecated")
    assert capsys.readouterr().err.splitlines() == [
        "inception-svm x: wrote it",
        "inception-svm x: warning: deprecated",
    ]
    cli.configure_logging("inception-svm x", cli.log_level(verbose=0, quiet=1))
    own.info("wrote it")
    own.error("failed")
    assert capsys.readouterr().err == "inception-svm x: error: failed\n"
    cli.configure_logging("inception-svm x", cli.log_level(verbose=2, quiet=0))
    library.info("Assets written to: somewhere")
    assert "Assets written" in capsys.readouterr().err
    cli.configure_logging("inception-svm x", logging.INFO)  # leave the default behind


def test_unknown_model_error_names_the_likely_cause(
    stand_in: ServerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README user's first failure: a server serving another model name than the one
    the client asks for (TF Serving's default is ``default``)."""
    train_dir = str(unlabeled_photos()[0].parents[1] / "train")
    code, _, err = run_main(
        capsys,
        "train",
        train_dir,
        "--server",
        stand_in.grpc_target,
        "--output",
        str(tmp_path / "svm.onnx"),
        "--model-name",
        "resnet",
        "--no-progress",
    )
    assert code == 2
    assert err.startswith(
        f"inception-svm train: error: cannot featurize through {stand_in.grpc_target}"
    )
    assert "NOT_FOUND" in err
    assert "(the server serves: 'inception_v1')" in err  # what to ask for instead
