"""Where the conformance suite points: the stand-in (default, CI) or ``--target``.

Without ``--target`` the session stand-in serves the session export, whose golden outputs
are known. With ``--target HOST:PORT`` (``--rest-target URL``, ``--target-model NAME``,
``--golden FILE`` as available) the same tests run against that server; a test that needs
something the target cannot offer calls ``not_applicable``, which skips it with an
``N/A against --target`` reason listed in pytest's summary and in the section this file
adds at the end of the run, so nothing is skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from inception_svm_client.verify.golden import Golden, golden_path_in, read_golden

NOT_APPLICABLE = "N/A against --target"
_not_applicable: list[str] = []


@dataclass(frozen=True)
class Target:
    grpc_target: str
    rest_url: str | None
    model_name: str
    golden: Golden | None
    is_stand_in: bool  # started here: its flags and files are known


def not_applicable(request: pytest.FixtureRequest, reason: str) -> None:
    _not_applicable.append(f"{request.node.nodeid}: {reason}")
    pytest.skip(f"{NOT_APPLICABLE}: {reason}")


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    config = request.config
    address = config.getoption("--target", default=None)
    if address is None:
        stand_in = request.getfixturevalue("stand_in")
        model_base_path: Path = request.getfixturevalue("model_base_path")
        return Target(
            stand_in.grpc_target,
            stand_in.rest_url,
            "inception_v1",
            read_golden(golden_path_in(model_base_path)),
            is_stand_in=True,
        )
    golden = config.getoption("--golden", default=None)
    return Target(
        address,
        config.getoption("--rest-target", default=None),
        config.getoption("--target-model", default="inception_v1"),
        read_golden(Path(golden)) if golden else None,
        is_stand_in=False,
    )


@pytest.fixture(scope="session")
def conformance_channel(target: Target) -> grpc.Channel:
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    channel = grpc.insecure_channel(target.grpc_target, options=options)
    return channel


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _not_applicable:
        terminalreporter.section("conformance checks not applicable to this target")
        for line in _not_applicable:
            terminalreporter.write_line(line)
