"""Config errors name the field a Python caller set; the CLI renames them to its flags once
(``commands/options.FLAG_FOR_FIELD``), so both audiences read a name they typed."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

from inception_svm_client import config
from inception_svm_client.commands.options import FLAG_FOR_FIELD
from inception_svm_client.config import (
    ChannelConfig,
    FeaturizerConfig,
    ModelTarget,
    RetryPolicy,
    TlsConfig,
)
from inception_svm_client.exceptions import SettingError
from inception_svm_client.loadtest import plan
from inception_svm_client.loadtest.plan import Gates, LoadTestConfig, WindowPolicy
from tests.client.test_cli import run_main


def _load(**overrides: object) -> LoadTestConfig:
    settings: dict[str, object] = {
        "channel": ChannelConfig(target="x:1"),
        "images": (b"jpeg",),
        "requests": 1,
    }
    return LoadTestConfig(**{**settings, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _load(requests=0), "requests must be at least 1, got 0"),
        (lambda: _load(requests=None), "give requests and/or duration_s"),
        (lambda: _load(deadline_s=0.0), "deadline_s must be positive, got 0.0"),
        (lambda: _load(connections=2), "connections 2 exceeds concurrency 1"),
        (lambda: WindowPolicy(tolerance=1.5), "tolerance must be within (0, 1), got 1.5"),
        (lambda: Gates(slo_p99_s=-1.0), "slo_p99_s must be positive, got -1.0"),
        (lambda: FeaturizerConfig(batch_size=0), "batch_size must be at least 1, got 0"),
        (lambda: RetryPolicy(budget_s=-1.0), "budget_s must be >= 0 seconds, got -1.0"),
        (lambda: TlsConfig(client_cert=Path("c.pem")), "both client_cert and client_key"),
        (lambda: ModelTarget(version=1, latest=True), "one of version, version_label or latest"),
    ],
)
def test_library_messages_name_fields_not_flags(make: Callable[[], object], message: str) -> None:
    with pytest.raises(SettingError) as raised:
        make()
    assert message in str(raised.value)
    assert "--" not in str(raised.value)


def test_a_value_given_is_never_read_as_a_field() -> None:
    error = SettingError("{sha256} must be 64 hex digits, got {got!r}", got="{requests}")
    assert error.fields == ("sha256",)
    assert (
        error.worded({"sha256": "--sha256"}) == "--sha256 must be 64 hex digits, got '{requests}'"
    )


def _fields_named(module: object) -> set[str]:
    """Every field a SettingError raised in ``module`` can name, read from its source."""
    fields: set[str] = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):  # type: ignore[arg-type]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "SettingError"
        ):
            template = node.args[0]
            assert isinstance(template, ast.Constant) and isinstance(template.value, str)
            values = {keyword.arg: 0 for keyword in node.keywords if keyword.arg}
            fields |= set(SettingError(template.value, **values).fields)
    return fields


@pytest.mark.parametrize("module", [config, plan], ids=lambda m: m.__name__)
def test_every_field_a_config_names_has_a_flag(module: object) -> None:
    named = _fields_named(module)
    assert named, "the scan found no SettingError: it would pass vacuously"
    assert named - FLAG_FOR_FIELD.keys() == set()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--batch-size", "0"], "error: --batch-size must be at least 1, got 0"),
        (["--max-in-flight", "0"], "error: --max-in-flight must be at least 1, got 0"),
        (["--retry-budget", "-1"], "error: --retry-budget must be >= 0 seconds"),
        (["--tls-cert", "c.pem"], "error: mTLS needs both --tls-cert and --tls-key"),
        (
            ["--model-version", "1", "--model-version-label", "stable"],
            "give one of --model-version N, --model-version-label or --model-version latest",
        ),
    ],
)
def test_cli_users_read_the_flags_they_typed(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "imagenet", "x.jpg", "--server", "127.0.0.1:1", *flags)
    assert (code, out) == (2, "")
    assert message in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--requests", "1", "--deadline", "0"], "error: --deadline must be positive, got 0.0"),
        (["--duration", "-1"], "error: --duration must be positive, got -1.0"),
        (["--requests", "1", "--warmup", "-1"], "error: --warmup must not be negative"),
        (["--concurrency-range", "1:2", "--stability", "2"], "error: --stability must be within"),
    ],
)
def test_loadtest_users_read_the_flags_they_typed(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "loadtest", "--server", "127.0.0.1:1", *flags)
    assert (code, out) == (2, "")
    assert message in err


# One validator types every int/float flag of every command: NaN passes every range check
# (it compares false), infinity overflows int(), a 20-digit version overflows int64, and
# int()/float() accept fullwidth digits. Each exits 2 naming the flag, before any call.
_CLASSIFY = ["classify", "x.jpg", "--svm", "s.onnx", "--server", "127.0.0.1:1"]
_LOADTEST = ["loadtest", "--server", "127.0.0.1:1"]


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        ([*_CLASSIFY, "--deadline", "nan"], "--deadline"),
        ([*_CLASSIFY, "--retry-budget", "nan"], "--retry-budget"),
        ([*_CLASSIFY, "--max-image-mib", "inf"], "--max-image-mib"),
        ([*_CLASSIFY, "--batch-timeout-ms", "-inf"], "--batch-timeout-ms"),
        ([*_CLASSIFY, "--model-version", "12345678901234567890"], "--model-version"),
        ([*_CLASSIFY, "--model-version", "-1"], "--model-version"),
        ([*_CLASSIFY, "--batch-size", "99999999999"], "--batch-size"),
        ([*_CLASSIFY, "--shard-count", "\uff12"], "--shard-count"),
        ([*_LOADTEST, "--duration", "nan"], "--duration"),
        ([*_LOADTEST, "--requests", "1", "--slo-p99", "nan"], "--slo-p99"),
        ([*_LOADTEST, "--concurrency-range", "1:2", "--window", "nan"], "--window"),
        ([*_LOADTEST, "--rate", "inf", "--requests", "1"], "--rate"),
        ([*_LOADTEST, "--requests", "1", "--max-error-rate", "nan"], "--max-error-rate"),
        (["train", "d", "--output", "s.onnx", "--server", "h:1", "-C", "nan"], "-C"),
        (["verify", "--golden", "g", "--server", "h:1", "--deadline", "nan"], "--deadline"),
        (["verify", "--golden", "g", "--server", "h:1", "--latency-samples", "1e3"], "--latency"),
        (["imagenet", "x.jpg", "--server", "h:1", "--top", "\uff15"], "--top"),
    ],
)
def test_non_finite_and_out_of_range_numbers_exit_2_naming_the_flag(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, *argv)
    assert (code, out) == (2, ""), err
    assert f"argument {flag}" in err
    assert "Traceback" not in err
