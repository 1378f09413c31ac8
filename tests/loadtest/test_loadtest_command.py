"""``inception-svm loadtest`` end to end against the real stand-in server process."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from inception_svm_client.cli import main
from inception_svm_client.commands import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from inception_svm_client.commands.loadtest import COMMAND, load_images, load_test
from inception_svm_client.config import ChannelConfig
from inception_svm_client.loadtest.plan import LoadTestConfig, LoadTestPlan, Outputs
from tests.harness import ServerHandle, free_port


@pytest.fixture(scope="module")
def server(stand_in: ServerHandle) -> ServerHandle:
    return stand_in


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    COMMAND.add_arguments(parser)
    return parser.parse_args(argv)


def run_json(tmp_path: Path, argv: list[str]) -> tuple[int, dict[str, Any]]:
    """The CLI entry point as users call it; the report's one row, or {} without a file."""
    output = tmp_path / "report.json"
    code = main(["loadtest", *argv, "--output", str(output)])
    report = json.loads(output.read_text()) if output.exists() else {}
    if report:
        assert report["format_version"] == 2
        (row,) = report["rows"]
        report = {**row, "settings": report["settings"], "passed": report["passed"]}
    return code, report


def test_closed_loop_report_counts_every_request(server: ServerHandle, tmp_path: Path) -> None:
    argv = ["--server", server.grpc_target, "--requests", "12", "--concurrency", "3"]
    code, report = run_json(tmp_path, [*argv, "--batch-size", "2", "--warmup", "0.3"])
    assert code == EXIT_OK
    assert report["settings"]["mode"] == "closed"
    requests = report["requests"]
    assert {key: requests[key] for key in ("measured", "ok", "failed")} == {
        "measured": 12,
        "ok": 12,
        "failed": 0,
    }
    # The first request is admitted as the clock starts, inside the 0.3 s warmup window, so
    # at least one is excluded; how many more depends on the machine's speed.
    assert requests["warmup_excluded"] >= 1, requests
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


def test_deadline_errors_are_counted_by_status(server: ServerHandle, tmp_path: Path) -> None:
    argv = ["--server", server.grpc_target, "--requests", "3", "--deadline", "0.001"]
    code, report = run_json(tmp_path, [*argv, "--batch-size", "8", "--max-error-rate", "1"])
    assert code == EXIT_OK  # allowed by --max-error-rate 1
    assert report["errors"] == {"DEADLINE_EXCEEDED": 3}
    assert report["requests"]["ok"] == 0
    assert report["latency_ms"] is None


def test_all_failing_run_exits_1(
    server: ServerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: every request INVALID_ARGUMENT used to exit 0."""
    images = tmp_path / "bad"
    images.mkdir()
    (images / "garbage.jpg").write_bytes(b"not a jpeg at all")
    argv = ["--server", server.grpc_target, "--requests", "4", "--images", str(images)]
    code, report = run_json(tmp_path, argv)
    assert code == EXIT_PARTIAL
    assert report["errors"] == {"INVALID_ARGUMENT": 4}
    assert report["passed"] is False
    assert "FAILED error rate 100.00% > --max-error-rate 0.00%" in capsys.readouterr().out


def test_slo_p99_gate_fails_the_run(server: ServerHandle, tmp_path: Path) -> None:
    argv = ["--server", server.grpc_target, "--requests", "3", "--slo-p99", "0.001"]
    code, report = run_json(tmp_path, argv)
    assert code == EXIT_PARTIAL
    assert report["requests"]["ok"] == 3
    (failure,) = report["gate_failures"]
    assert "--slo-p99 0.001 ms" in failure


def test_duration_is_kept_within_one_request_latency(server: ServerHandle, tmp_path: Path) -> None:
    argv = ["--server", server.grpc_target, "--concurrency", "2", "--duration", "1.5"]
    started = time.monotonic()
    code, report = run_json(tmp_path, [*argv, "--warmup", "0.3"])
    elapsed = time.monotonic() - started
    assert code == EXIT_OK
    slowest_s = report["latency_ms"]["max"] / 1000.0
    # The measured window: from the first send after the warm-up to the last answer, i.e.
    # the duration plus the last request admitted before its end.
    assert report["window_s"] <= 1.5 + slowest_s
    # The whole command: warm-up + that; 3 s cover start-up (image loading, connecting, the
    # metadata preflight) and the report on a busy machine.
    assert elapsed <= 0.3 + 1.5 + slowest_s + 3.0


def server_connections(server: ServerHandle) -> set[int]:
    """Peer ports of the server process's established TCP connections on its gRPC port:
    the server's own sockets (its /proc fds) matched against the kernel's table."""
    port = int(server.grpc_target.rsplit(":", 1)[1])
    fd_dir = Path(f"/proc/{server.process.pid}/fd")
    inodes = set()
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    peers = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                if state == "01" and inode in inodes and int(local.split(":")[1], 16) == port:
                    peers.add(int(remote.split(":")[1], 16))
    return peers


@pytest.mark.parametrize("connections", [1, 4])
def test_connections_are_separate_tcp_connections_on_the_server(
    server: ServerHandle, tmp_path: Path, connections: int
) -> None:
    before = server_connections(server)
    seen: set[int] = set()
    argv = ["--server", server.grpc_target, "--concurrency", "4", "--duration", "1.5"]
    result: list[tuple[int, dict[str, Any]]] = []
    run = threading.Thread(
        target=lambda: result.append(run_json(tmp_path, [*argv, "--connections", str(connections)]))
    )
    run.start()
    while run.is_alive():
        seen |= server_connections(server) - before
        time.sleep(0.05)
    run.join()
    code, report = result[0]
    assert code == EXIT_OK
    assert report["settings"]["connections"] == connections
    assert len(seen) == connections


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
    )
    plan = LoadTestPlan(base=config, outputs=Outputs(json=tmp_path / "report.json"))
    stderr = io.StringIO()
    assert load_test(plan, io.StringIO(), stderr) == EXIT_USAGE
    assert "UNAVAILABLE" in stderr.getvalue()
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--server", "x:1"], "--requests and/or --duration"),
        (["--server", "x:1", "--requests", "1", "--batch-size", "0"], "--batch-size"),
        (["--server", "x:1", "--duration", "1", "--rate", "-1"], "--rate"),
        (["--server", "x:1", "--requests", "1", "--images", "/nonexistent"], "not a directory"),
        (["--server", "x:1", "--requests", "1", "--concurrency", "2", "--rate", "5"], "conflict"),
        (["--server", "x:1", "--concurrency-range", "1:4", "--rate", "5"], "conflict"),
        (["--server", "x:1", "--concurrency-range", "1:4", "--duration", "5"], "--duration"),
        (["--server", "x:1", "--requests", "1", "--window", "1"], "--window applies"),
        (["--server", "x:1", "--requests", "1", "--max-outstanding", "3"], "open loop only"),
        (["--server", "x:1", "--requests", "1", "--connections", "2"], "exceeds --concurrency"),
        (["--server", "x:1", "--concurrency-range", "4:1"], "START <= END"),
        (["--server", "x:1", "--rate-range", "1:8:x1"], "must exceed 1"),
        (["--server", "x:1", "--requests", "1", "--max-error-rate", "2"], "--max-error-rate"),
        (["--server", "x:1", "--requests", "1", "--concurrency", "0"], "--concurrency"),
        (
            ["--server", "x:1", "--requests", "1", "--rate", "1", "--max-outstanding", "0"],
            "--max-o",
        ),
    ],
)
def test_bad_flags_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert COMMAND.run(parse(argv)) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_unreadable_metrics_url_exits_2_before_the_run(
    server: ServerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = f"http://127.0.0.1:{free_port()}"
    argv = ["--server", server.grpc_target, "--concurrency-range", "1:2", "--metrics-url", metrics]
    code, report = run_json(tmp_path, argv)
    assert code == EXIT_USAGE
    assert report == {}
    assert "METRICS_UNAVAILABLE" in capsys.readouterr().err


def test_rate_sweep_gives_one_open_loop_row_per_rate(server: ServerHandle, tmp_path: Path) -> None:
    output = tmp_path / "rates.json"
    argv = ["--server", server.grpc_target, "--rate-range", "4:8:4", "--window", "0.5"]
    argv += ["--max-windows", "3", "--output", str(output)]
    assert main(["loadtest", *argv]) == EXIT_OK
    report = json.loads(output.read_text())
    assert report["settings"]["sweep"]["kind"] == "rate"
    rows = report["rows"]
    assert [row["rate"] for row in rows] == [4.0, 8.0]
    for row in rows:
        assert row["concurrency"] is None and row["windows"] == 3
        sends = row["open_loop"]
        assert sends["scheduled"] >= row["requests"]["measured"] > 0


def test_sweep_stops_at_the_first_step_over_the_slo(server: ServerHandle, tmp_path: Path) -> None:
    output = tmp_path / "sweep.json"
    argv = ["--server", server.grpc_target, "--concurrency-range", "1:4:x2", "--window", "0.5"]
    argv += ["--max-windows", "3", "--slo-p99", "0.001", "--output", str(output)]
    assert main(["loadtest", *argv]) == EXIT_PARTIAL
    report = json.loads(output.read_text())
    assert report["passed"] is False
    assert [row["concurrency"] for row in report["rows"]] == [1]
    assert report["skipped_levels"] == [2.0, 4.0]


@pytest.mark.parametrize("flag", ["--output", "--csv", "--html"])
@pytest.mark.parametrize("make", ["fifo", "chardev", "link"])
def test_outputs_that_are_not_regular_files_are_refused_before_the_run_and_survive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, make: str
) -> None:
    from tests.client.special_files import fifo, kind, null_device

    target = tmp_path / "result"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    {"fifo": fifo, "chardev": null_device, "link": lambda p: p.symlink_to(victim)}[make](target)
    dead = f"127.0.0.1:{free_port()}"
    code = main(["loadtest", "--server", dead, "--requests", "1", flag, str(target)])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{flag} {target}" in err and "refused" in err
    assert "UNAVAILABLE" not in err  # before any load
    assert kind(target) == make and victim.read_text() == "keep me"


def test_the_report_is_not_written_over_an_input_or_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    photo = images / "a.jpg"
    photo.write_bytes(b"\xff\xd8 not decoded here")
    dead = f"127.0.0.1:{free_port()}"
    common = ["loadtest", "--server", dead, "--requests", "1", "--images", str(images)]
    assert main([*common, "--output", str(photo)]) == EXIT_USAGE
    assert "inside the input directory" in capsys.readouterr().err
    same = tmp_path / "r.txt"
    assert main([*common, "--output", str(same), "--csv", str(same)]) == EXIT_USAGE
    assert "also the --output file" in capsys.readouterr().err
    assert photo.read_bytes() == b"\xff\xd8 not decoded here" and not same.exists()


def test_an_image_set_with_a_dangling_link_is_refused_not_thinned(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff not decoded here")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(ValueError, match=r"b\.jpg: a dangling symbolic link"):
        load_images(tmp_path)
