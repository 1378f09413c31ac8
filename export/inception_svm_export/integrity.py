"""``SHA256SUMS``: the integrity manifest of one exported version directory.

Written by the exporter inside its staging directory, before the atomic rename, so no
version directory is ever visible without it; verified by the serving pod's init container
(``k8s/base/fetch-model.sh``, ``sha256sum -c`` plus "every file is listed") on the copy it
is about to serve. The format is exactly what GNU coreutils and busybox ``sha256sum`` write
and check: ``<hex digest>  ./<relative path>`` per file, sorted, the manifest itself left out.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from inception_svm_export.exceptions import ManifestError

MANIFEST_FILE = "SHA256SUMS"
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path) -> str:
    """Write ``directory/SHA256SUMS`` over every file below it; returns the manifest's digest.

    The digest is what a deployment pins (``MODEL_MANIFEST_SHA256S``), so that a store that
    swaps both a file and the manifest is still caught.
    """
    lines = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative == MANIFEST_FILE:
            continue
        # sha256sum escapes such names with a leading backslash; keep the format plain.
        if "\n" in relative or "\\" in relative:
            raise ManifestError(f"cannot list {relative!r} in {MANIFEST_FILE}")
        lines.append(f"{file_sha256(path)}  ./{relative}\n")
    manifest = directory / MANIFEST_FILE
    manifest.write_text("".join(lines), encoding="utf-8")
    return file_sha256(manifest)
