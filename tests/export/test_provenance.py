"""Which weights an export was made from: the official release is recognised by its digest."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from inception_svm_export import provenance
from inception_svm_export.provenance import checkpoint_provenance


def test_provenance_recognises_the_official_tarball_by_digest(
    random_checkpoint_v1: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = tmp_path / "inception_v1_2016_08_28.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(random_checkpoint_v1, arcname="inception_v1.ckpt")
    other = checkpoint_provenance(str(tarball), "unused", cache_dir=tmp_path)
    assert not other.official and other.describe().startswith("not the official")
    monkeypatch.setattr(provenance, "OFFICIAL_TARBALL_SHA256", other.sha256)
    official = checkpoint_provenance(str(tarball), "unused", cache_dir=tmp_path)
    assert official.official and official.describe().startswith("official")
    assert official.to_json()["sha256"] == other.sha256
