"""One set of generated bad inputs for the whole reliability session.

Most scenarios run against the session's production-batching server (``batching_server``,
tests/conftest.py): requests of up to 64 images split into execution batches of 8, bounded
queue, so "batch larger than allowed" and the memory checks see the same limits a deployment
has. Scenarios that must own their server (restarts, overload, version swap, TLS) start
their own instead of disturbing that one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import car_photos
from tests.reliability.bad_inputs import write_bad_inputs


@pytest.fixture(scope="session")
def bad_input_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    photo = car_photos()[0].read_bytes()
    return write_bad_inputs(tmp_path_factory.mktemp("bad-inputs"), photo)
