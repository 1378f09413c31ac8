"""Flags (``config/flags.py``): every flag of the production command line, in TF Serving's forms,
and a process that exits 2 naming what it refused."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from inception_svm_serving._exceptions import ConfigError
from inception_svm_serving.config.flags import add_server_flags, options_from_args
from inception_svm_serving.config.options import (
    load_batching_parameters,
    parse_grpc_channel_arguments,
)
from inception_svm_serving.launch import read_args_file
from tests.harness import BATCHING_PARAMETERS, REPO_ROOT, SERVING_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(allow_abbrev=False, exit_on_error=False)
    add_server_flags(parser)
    return parser.parse_args(argv)


def run_stand_in(*flags: str) -> subprocess.CompletedProcess[str]:
    """For flags and configs refused at startup: the process exits before loading a model."""
    return subprocess.run(
        [sys.executable, "-m", "inception_svm_serving", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )


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


def test_unknown_flag_exits_2_with_its_name() -> None:
    result = run_stand_in("--model_base_path=/x", "--bogus_flag=1")
    assert result.returncode == 2
    assert "--bogus_flag" in result.stderr


def test_bad_config_file_exits_2() -> None:
    result = run_stand_in(f"--model_config_file={FIXTURES / 'models_bad.config'}")
    assert result.returncode == 2
    assert "base_pth" in result.stderr


def test_request_limits_flags_and_their_consistency() -> None:
    options = options_from_args(parse(["--model_base_path=/m", "--max_request_batch_size=64"]))
    assert options.limits.max_request_batch_size == 64
    assert options.limits.max_request_pixels == 4 * 8192 * 8192  # untouched default
    with pytest.raises(ConfigError, match="max_inflight_pixels"):
        options_from_args(
            parse(["--model_base_path=/m", "--max_request_pixels=10", "--max_inflight_pixels=5"])
        )


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
