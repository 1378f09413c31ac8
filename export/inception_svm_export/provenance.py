"""Which weights a SavedModel was exported from: the official release, or something else.

A deployment that silently serves random or foreign weights looks healthy in every metric,
so the exporter records the sha256 of what it read and whether that is the published
digest of ``inception_v1_2016_08_28.tar.gz``. Only the release tarball has a published
digest; the bare ``inception_v1.ckpt`` inside it, or a re-saved V2 checkpoint, are recorded
as "other" with their own digest (the file bytes differ even when the weights do not).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inception_svm_export.checkpoint import download_target, sha256_files

# inception_v1_2016_08_28.tar.gz, 24642554 bytes, as published alongside the release
# (the digest OpenVINO's model zoo pins for its download of the same URL).
OFFICIAL_TARBALL_SHA256 = "7a620c430fcaba8f8f716241f5148c4c47c035cce4e49ef02cfbe6cd1adf96a6"
OFFICIAL_NAME = "inception_v1_2016_08_28"


@dataclass(frozen=True)
class WeightsProvenance:
    """The digest of the checkpoint as given and whether it is the official release."""

    official: bool
    sha256: str
    source: str

    def describe(self) -> str:
        """One line for metadata, ``verify``, the demo and the ``imagenet`` command."""
        if self.official:
            return f"official {OFFICIAL_NAME} checkpoint (sha256 {self.sha256})"
        return f"not the official {OFFICIAL_NAME} checkpoint (sha256 {self.sha256})"

    def to_json(self) -> dict[str, Any]:
        return {
            "official": self.official,
            "sha256": self.sha256,
            "official_sha256": OFFICIAL_TARBALL_SHA256,
            "source": self.source,
            "description": self.describe(),
        }


def checkpoint_provenance(
    source: str, resolved: str, *, cache_dir: Path, verified_sha256: str | None = None
) -> WeightsProvenance:
    """Digest ``source`` (tarball, URL's cached download, .ckpt) or, for a directory or V2
    prefix, the checkpoint files ``resolved`` names. ``verified_sha256``: already checked
    by ``resolve_checkpoint`` against the same file, so it is not hashed again."""
    if verified_sha256 is not None:
        digest = verified_sha256.strip().lower()
    else:
        digest = sha256_files(_checkpoint_files(source, resolved, cache_dir))
    return WeightsProvenance(
        official=digest == OFFICIAL_TARBALL_SHA256, sha256=digest, source=source
    )


def _checkpoint_files(source: str, resolved: str, cache_dir: Path) -> list[Path]:
    if source.startswith(("https://", "http://")):
        return [download_target(source, cache_dir)]
    given = Path(source).expanduser()
    if given.is_file() and (tarfile.is_tarfile(given) or given.suffix != ".index"):
        return [given]
    resolved_path = Path(resolved)
    if resolved_path.is_file():  # a V1 .ckpt found in a directory
        return [resolved_path]
    # A V2 prefix: the index plus every data shard, in name order.
    return sorted(resolved_path.parent.glob(f"{resolved_path.name}.*"))
