"""A channel to the session's batching server (tests/conftest.py) and the images most of
tests/serving sends through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.harness import ServerHandle

CAT_JPEG = "samples/cat-with-tongue_224x224.jpg"


@pytest.fixture(scope="session")
def channel(batching_server: ServerHandle) -> Iterator[grpc.Channel]:
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(batching_server.grpc_target, options=options) as chan:
        yield chan


@pytest.fixture(scope="session")
def jpeg_images(bundled_photos: Path) -> list[bytes]:
    """Four distinct real JPEGs: the cat plus three cars of different sizes."""
    cars = sorted((bundled_photos / "cars" / "unlabeled").glob("*.jpg"))[:3]
    return [(bundled_photos / CAT_JPEG).read_bytes(), *(p.read_bytes() for p in cars)]
