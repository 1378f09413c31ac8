"""Config files and flags: what the real server accepts, the stand-in accepts, and vice versa."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from inception_svm_serving.errors import ConfigError
from inception_svm_serving.flags import add_server_flags, options_from_args
from inception_svm_serving.launch import local_command, read_args_file
from inception_svm_serving.server_config import (
    BatchingOptions,
    VersionPolicy,
    load_batching_parameters,
    load_model_config_file,
    load_monitoring_config,
    load_ssl_config,
    parse_grpc_channel_arguments,
)
from tests.harness import BATCHING_PARAMETERS, MONITORING_CONFIG, REPO_ROOT, SERVING_DIR

FIXTURES = Path(__file__).parent / "fixtures"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(allow_abbrev=False, exit_on_error=False)
    add_server_flags(parser)
    return parser.parse_args(argv)


def test_repository_config_files_parse() -> None:
    (model,) = load_model_config_file(SERVING_DIR / "models.config")
    assert (model.name, str(model.base_path)) == ("inception_v1", "/models/inception_v1")
    assert model.policy == VersionPolicy(kind="latest", num_versions=1)
    batching = load_batching_parameters(BATCHING_PARAMETERS)
    assert batching.allowed_batch_sizes[-1] == batching.execution_batch_limit
    load_batching_parameters(SERVING_DIR / "batching_parameters_gpu.txt")
    monitoring = load_monitoring_config(MONITORING_CONFIG)
    assert monitoring.prometheus_enabled
    assert monitoring.prometheus_path == "/monitoring/prometheus/metrics"


def test_good_fixture_has_pinned_versions_and_labels() -> None:
    (model,) = load_model_config_file(FIXTURES / "models_good.config")
    assert model.policy == VersionPolicy(kind="specific", versions=(1, 2))
    assert dict(model.version_labels) == {"stable": 1, "canary": 2}
    assert model.policy.select([1, 2, 3]) == [1, 2]


@pytest.mark.parametrize(
    ("loader", "fixture", "message"),
    [
        (load_model_config_file, "models_bad.config", "base_pth"),
        (load_batching_parameters, "batching_bad.txt", "max_batch_size"),
        (load_model_config_file, "does_not_exist.config", "cannot read"),
    ],
)
def test_bad_fixtures_are_rejected_clearly(loader: object, fixture: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        loader(FIXTURES / fixture)  # type: ignore[operator]


def test_every_flag_of_the_production_command_line_is_accepted() -> None:
    argv = [flag.replace("/config/", f"{SERVING_DIR}/") for flag in read_args_file()]
    options = options_from_args(parse(argv))
    assert options.batching == load_batching_parameters(BATCHING_PARAMETERS)
    assert options.enable_grpc_healthcheck_service
    assert dict(options.grpc_channel_arguments)["grpc.max_receive_message_length"] == 64 << 20
    assert options.grpc_port == 8500 and options.rest_api_port == 8501


def test_boolean_flags_take_tf_serving_forms() -> None:
    assert parse(["--enable_batching"]).enable_batching is True
    assert parse(["--enable_batching=false"]).enable_batching is False
    assert parse(["--enable_batching", "true"]).enable_batching is True


def run_stand_in(*flags: str) -> subprocess.CompletedProcess[str]:
    """For flags and configs refused at startup: the process exits before loading a model."""
    return subprocess.run(
        [sys.executable, "-m", "inception_svm_serving", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )


def test_unknown_flag_exits_2_with_its_name() -> None:
    result = run_stand_in("--model_base_path=/x", "--bogus_flag=1")
    assert result.returncode == 2
    assert "--bogus_flag" in result.stderr


def test_bad_config_file_exits_2() -> None:
    result = run_stand_in(f"--model_config_file={FIXTURES / 'models_bad.config'}")
    assert result.returncode == 2
    assert "base_pth" in result.stderr


def test_batching_options_validate_allowed_sizes() -> None:
    with pytest.raises(ConfigError):
        BatchingOptions(max_batch_size=8, allowed_batch_sizes=(4, 2, 8))
    with pytest.raises(ConfigError, match="max_execution_batch_size"):  # TF Serving's rule
        BatchingOptions(
            max_batch_size=64,
            enable_large_batch_splitting=True,
            max_execution_batch_size=8,
            allowed_batch_sizes=(4, 64),
        )


def test_production_batching_accepts_client_requests_of_32_in_batches_of_8() -> None:
    batching = load_batching_parameters(BATCHING_PARAMETERS)
    assert batching.enable_large_batch_splitting and batching.max_batch_size >= 32
    assert batching.execution_batch_limit == 8


def test_ssl_config_parses_and_errors_never_quote_key_material(tmp_path: Path) -> None:
    secret = "MIIsecretKEYbody"
    good = tmp_path / "ssl.config"
    good.write_text(
        f'server_key: "-----BEGIN PRIVATE KEY-----\\n{secret}\\n"\n'
        'server_cert: "cert"\ncustom_ca: "ca"\nclient_verify: true\n'
    )
    ssl = load_ssl_config(good)
    assert ssl.client_verify and ssl.custom_ca == "ca" and secret in ssl.server_key
    assert secret not in repr(ssl)
    bad = tmp_path / "bad.config"
    bad.write_text(f'server_key: "{secret}"\nserver_kee: "{secret}"\n')
    with pytest.raises(ConfigError) as raised:
        load_ssl_config(bad)
    assert secret not in str(raised.value) and "line 2" in str(raised.value)
    no_ca = tmp_path / "no_ca.config"
    no_ca.write_text('server_key: "k"\nserver_cert: "c"\nclient_verify: true\n')
    with pytest.raises(ConfigError, match="custom_ca"):
        load_ssl_config(no_ca)


def test_serve_command_module_imports_no_tensorflow() -> None:
    """``inception-svm classify`` imports every command plugin; serve's must stay light."""
    probe = (
        "import sys, inception_svm_serving.serve_command; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tensorflow_serving') or m == 'inception_svm_serving.server_config'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


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


def test_request_limits_flags_and_their_consistency() -> None:
    options = options_from_args(parse(["--model_base_path=/m", "--max_request_batch_size=64"]))
    assert options.limits.max_request_batch_size == 64
    assert options.limits.max_request_pixels == 4 * 8192 * 8192  # untouched default
    with pytest.raises(ConfigError, match="max_inflight_pixels"):
        options_from_args(
            parse(["--model_base_path=/m", "--max_request_pixels=10", "--max_inflight_pixels=5"])
        )


def test_channel_arguments_are_parsed_as_tensorflow_model_server_does() -> None:
    # server.cc: split on "," then "="; absl::SimpleAtoi (int32, sign, blanks) -> int,
    # anything else -> string (gRPC decides what it accepts).
    assert parse_grpc_channel_arguments(
        "grpc.max_connection_age_ms=30000,grpc.max_connection_age_grace_ms= +40000 ,"
        "grpc.primary_user_agent=tfs,grpc.x=1_000,grpc.y=2147483648"
    ) == (
        ("grpc.max_connection_age_ms", 30000),
        ("grpc.max_connection_age_grace_ms", 40000),
        ("grpc.primary_user_agent", "tfs"),
        ("grpc.x", "1_000"),
        ("grpc.y", "2147483648"),
    )
    assert parse_grpc_channel_arguments("") == ()


@pytest.mark.parametrize(
    "text",
    [
        "grpc.max_connection_age_ms",  # no "=": the real server indexes past its split
        "grpc.max_connection_age_ms=1,",  # empty item
        "a=b=c",  # the real server silently drops "=c"
        "=5",
        " grpc.max_connection_age_ms=5",  # a key gRPC would not recognise
        "grpc.max_connection_age_ms=30s",  # gRPC would ignore it: max age silently off
        "grpc.max_connection_age_grace_ms=2147483648",  # not an int32: same
    ],
)
def test_malformed_channel_arguments_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--grpc_channel_arguments"):
        parse_grpc_channel_arguments(text)


def test_server_exits_2_on_a_malformed_channel_argument() -> None:
    result = run_stand_in(
        "--model_base_path=/x", "--grpc_channel_arguments=grpc.max_connection_age_ms=30s"
    )
    assert result.returncode == 2, result.stderr
    assert "grpc.max_connection_age_ms takes a 32-bit integer, got '30s'" in result.stderr


def test_production_channel_arguments_reach_the_grpc_server_options() -> None:
    argv = [flag.replace("/config/", f"{SERVING_DIR}/") for flag in read_args_file()]
    args = parse(argv)
    options = options_from_args(args)
    expected = parse_grpc_channel_arguments(args.grpc_channel_arguments)
    assert expected and set(expected) <= set(options.grpc_channel_arguments)
