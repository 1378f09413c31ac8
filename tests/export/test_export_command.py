"""``inception-svm export``'s boundary: a refused flag or a failed export is one line on stderr
and exit code 2, never a traceback, and never touches a version directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inception_svm_client.cli import main as cli_main
from inception_svm_export import exceptions, saved_model
from inception_svm_export.exceptions import ExportError


def test_console_script_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("inception-svm")
    result = subprocess.run(
        [
            *(str(script), "export", "--checkpoint", str(tmp_path / "missing.ckpt")),
            *("--model-dir", str(tmp_path / "models")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "missing.ckpt not found" in result.stderr
    assert not (tmp_path / "models").exists()


def test_existing_version_is_never_overwritten(
    random_checkpoint_v1: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    existing = tmp_path / "models" / "3"
    existing.mkdir(parents=True)
    (existing / "saved_model.pb").write_bytes(b"the version being served")
    argv = ["export", "--checkpoint", str(random_checkpoint_v1), "--version", "3"]
    assert cli_main([*argv, "--model-dir", str(tmp_path / "models")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["3"]
    assert (existing / "saved_model.pb").read_bytes() == b"the version being served"


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--version", "0"], "--version must be a positive integer"),
        (["--sha256", "abc"], "--sha256 must be 64 hex digits"),
    ],
)
def test_bad_flags_are_usage_errors(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli_main(["export", "--model-dir", str(tmp_path / "m"), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "error",
    [
        cls
        for cls in vars(exceptions).values()
        if isinstance(cls, type) and cls.__module__ == exceptions.__name__
    ],
    ids=lambda cls: cls.__name__,
)
def test_every_export_error_is_one_line_and_exit_2(
    error: type[ExportError],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command catches the root of the tree, so a new kind of failure needs no new case."""

    def fail(*_: object, **__: object) -> Path:
        raise error("the reason")

    monkeypatch.setattr(saved_model, "export_saved_model", fail)
    assert cli_main(["export", "--model-dir", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "inception-svm export: the reason"
