"""Helpers for the "nothing lost" checks: a long stream of distinct inputs and its audit.

Each stream item gets a distinct path (a symlink to one of the bundled photos) so that an
output record can be traced to exactly one input: duplicates, drops and reordering are all
visible, which repeating the same 27 paths would hide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inception_svm_client.grpc._featurizer import FeatureResult
from tests.paths import car_photos


def make_stream(directory: Path, photos: Sequence[Path], count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        link = directory / f"img_{index:04d}.jpg"
        link.symlink_to(photos[index % len(photos)])
        paths.append(link)
    return paths


def car_stream(directory: Path, count: int) -> list[str]:
    """``count`` links to the bundled car photos under ``directory``, as the keys (path
    strings) that the client's records and results name."""
    return [str(p) for p in make_stream(directory, car_photos(), count)]


@dataclass(frozen=True)
class Audit:
    inputs: int
    outputs: int
    lost: int
    duplicated: int
    out_of_order: bool
    errors: list[tuple[str, str]]


def audit(expected_keys: Sequence[str], results: Sequence[FeatureResult]) -> Audit:
    keys = [result.key for result in results]
    return Audit(
        inputs=len(expected_keys),
        outputs=len(results),
        lost=len(set(expected_keys) - set(keys)),
        duplicated=len(keys) - len(set(keys)),
        out_of_order=keys != list(expected_keys),
        errors=[(r.key, r.error) for r in results if r.error is not None],
    )
