"""Secure defaults of a deployment overlay: the model store must be the user's own bucket.

The shipped manifests name no real bucket: ``k8s/base`` (and the examples that point at the
store) carry the placeholder ``REPLACE-WITH-YOUR-BUCKET``, upper case so that no S3 or GCS
bucket can have that name. A default that looked real (the old ``inception-svm-models``) is
a global S3 name anyone could create, and the pods would serve whatever it holds.

The repository's own renders keep the placeholder (they are templates, validated by
tests/k8s/test_manifests.py); a user's overlay must replace it, which this check enforces:

    make k8s-check OVERLAY=k8s/examples/prod     # renders like `kubectl apply -k`, exit 1 if not

It also says which served versions are not pinned (MODEL_MANIFEST_SHA256S): the pods refuse
those (k8s/base/fetch-model.sh) unless ALLOW_UNPINNED_MODELS=true.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.k8s.kustomize import RenderError, render
from tests.k8s.objects import Rendered, config_map_data

PLACEHOLDER = "REPLACE-WITH-YOUR-BUCKET"
# Defaults this repository shipped before; a global S3 namespace means anyone can own them.
FORMER_DEFAULTS = ("inception-svm-models",)


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{where}[{index}]")
    elif isinstance(node, str):
        yield where, node


def check_model_store_is_yours(rendered: Rendered) -> list[str]:
    """Every place that names a bucket names one the user set, not the placeholder."""
    violations = []
    for obj in rendered.objects:
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        for where, value in _strings(obj, name):
            if PLACEHOLDER in value:
                violations.append(f"{where}: {value!r} is the placeholder; set your own bucket")
            elif any(default in value for default in FORMER_DEFAULTS):
                violations.append(f"{where}: {value!r} is a bucket name anyone could own")
    return violations


def unpinned_versions(rendered: Rendered) -> list[str]:
    """Versions the pods install whose manifest digest is not pinned (they will refuse them
    unless ALLOW_UNPINNED_MODELS=true)."""
    source = config_map_data(rendered.objects, "model-source")
    if source is None:
        return []
    if source.get("ALLOW_UNPINNED_MODELS") == "true":
        return []
    pinned = {pin.partition("=")[0] for pin in source.get("MODEL_MANIFEST_SHA256S", "").split()}
    return [v for v in source.get("MODEL_VERSIONS", "").split() if v not in pinned]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.k8s.secure_defaults OVERLAY_DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    try:
        rendered = Rendered(directory.name, render(directory.resolve()))
    except RenderError as error:
        print(f"k8s-check: {error}", file=sys.stderr)
        return 2
    violations = check_model_store_is_yours(rendered)
    for violation in violations:
        print(f"k8s-check: {directory}: {violation}", file=sys.stderr)
    for version in unpinned_versions(rendered):
        print(
            f"k8s-check: {directory}: note: version {version} is not pinned in "
            "MODEL_MANIFEST_SHA256S; the serving pods refuse it until you pin it (the export "
            "Job prints MODEL_MANIFEST_SHA256=...) or set ALLOW_UNPINNED_MODELS=true",
            file=sys.stderr,
        )
    if violations:
        return 1
    print(f"k8s-check: {directory}: the model store is yours")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
