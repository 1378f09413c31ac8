"""Config files as the real server reads them (``config/options.py``): what tensorflow_model_server
accepts, the stand-in accepts, and vice versa."""

from __future__ import annotations

from pathlib import Path

import pytest

from inception_svm_serving._exceptions import ConfigError, InvalidArgument
from inception_svm_serving.config.options import (
    VersionPolicy,
    load_batching_parameters,
    load_model_config_file,
    load_monitoring_config,
    load_ssl_config,
    parse_grpc_channel_arguments,
)
from inception_svm_serving.core.batching import check_batching_for_load
from tests.harness import BATCHING_PARAMETERS, MONITORING_CONFIG, SERVING_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_repository_config_files_parse() -> None:
    (model,) = load_model_config_file(SERVING_DIR / "models.config")
    assert (model.name, str(model.base_path)) == ("inception_v1", "/models/inception_v1")
    assert model.policy == VersionPolicy(kind="latest", num_versions=2)
    load_batching_parameters(BATCHING_PARAMETERS)
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
        (load_model_config_file, "does_not_exist.config", "NOT_FOUND"),
    ],
)
def test_bad_fixtures_are_rejected_clearly(loader: object, fixture: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        loader(FIXTURES / fixture)  # type: ignore[operator]


def test_batching_fixture_fails_at_load_not_at_parse() -> None:
    # tensorflow_model_server parses the file at startup without checking its content
    # (server.cc); the allowed_batch_sizes rule fails the model load (WrapSessionForBatching).
    options = load_batching_parameters(FIXTURES / "batching_bad.txt")
    with pytest.raises(InvalidArgument, match="last entry was 16; expected 32"):
        check_batching_for_load(options)


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
