"""``inception-svm loadtest`` end to end against the real stand-in server process."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inception_svm_client.commands import EXIT_OK, EXIT_USAGE
from inception_svm_client.commands.loadtest import COMMAND, load_test
from inception_svm_client.config import ChannelConfig
from inception_svm_client.loadtest.config import LoadTestConfig
from tests.harness import ServerHandle, free_port, running_server


@pytest.fixture(scope="module")
def server(model_base_path: Path) -> Iterator[ServerHandle]:
    with running_server(model_base_path) as handle:
        yield handle


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    COMMAND.add_arguments(parser)
    return parser.parse_args(argv)


def run_json(tmp_path: Path, argv: list[str]) -> tuple[int, dict[str, Any]]:
    output = tmp_path / "report.json"
    code = COMMAND.run(parse([*argv, "--output", str(output)]))
    report = json.loads(output.read_text()) if output.exists() else {}
    return code, report


def test_closed_loop_report_counts_every_request(server: ServerHandle, tmp_path: Path) -> None:
    argv = ["--server", server.grpc_target, "--requests", "12", "--concurrency", "3"]
    code, report = run_json(tmp_path, [*argv, "--batch-size", "2", "--warmup", "0.3"])
    assert code == EXIT_OK
    assert report["settings"]["mode"] == "closed"
    assert report["requests"] == {
        "measured": 12,
        "ok": 12,
        "failed": 0,
        "warmup_excluded": report["requests"]["warmup_excluded"],
    }
    assert report["images_ok"] == 24
    assert report["status_counts"] == {"OK": 12}
    latency = report["latency_ms"]
    assert latency["count"] == 12
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert report["throughput"]["images_per_s"] == pytest.approx(
        2 * report["throughput"]["requests_per_s"], rel=1e-3
    )
    assert report["client_cpu"]["seconds"] > 0


def test_open_loop_accounts_for_every_scheduled_send(server: ServerHandle, tmp_path: Path) -> None:
    argv = ["--server", server.grpc_target, "--rate", "20", "--duration", "1"]
    code, report = run_json(tmp_path, [*argv, "--max-outstanding", "2"])
    assert code == EXIT_OK
    sends = report["open_loop"]
    assert sends["scheduled"] == report["requests"]["measured"] + sends["dropped"]
    assert report["requests"]["ok"] == report["requests"]["measured"] > 0


def test_deadline_errors_are_counted_by_status_not_fatal(
    server: ServerHandle, tmp_path: Path
) -> None:
    argv = ["--server", server.grpc_target, "--requests", "3", "--deadline", "0.001"]
    code, report = run_json(tmp_path, [*argv, "--batch-size", "8"])
    assert code == EXIT_OK
    assert report["errors"] == {"DEADLINE_EXCEEDED": 3}
    assert report["requests"]["ok"] == 0
    assert report["latency_ms"] is None


def test_unknown_model_exits_2_before_the_run(server: ServerHandle, tmp_path: Path) -> None:
    code, report = run_json(
        tmp_path, ["--server", server.grpc_target, "--requests", "3", "--model-name", "nope"]
    )
    assert code == EXIT_USAGE
    assert report == {}


def test_dead_port_exits_2(tmp_path: Path) -> None:
    config = LoadTestConfig(
        channel=ChannelConfig(target=f"127.0.0.1:{free_port()}"),
        images=(b"not sent",),
        requests=1,
        output=tmp_path / "report.json",
    )
    stderr = io.StringIO()
    assert load_test(config, io.StringIO(), stderr) == EXIT_USAGE
    assert "UNAVAILABLE" in stderr.getvalue()
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--server", "x:1"], "--requests and/or --duration"),
        (["--server", "x:1", "--requests", "1", "--batch-size", "0"], "--batch-size"),
        (["--server", "x:1", "--duration", "1", "--rate", "-1"], "--rate"),
        (["--server", "x:1", "--requests", "1", "--images", "/nonexistent"], "not a directory"),
    ],
)
def test_bad_flags_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert COMMAND.run(parse(argv)) == EXIT_USAGE
    assert message in capsys.readouterr().err
