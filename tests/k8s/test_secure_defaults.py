"""Secure by default (tests/k8s/secure_defaults.py): nothing shipped names a real bucket, the
template overlay a user copies fails the check until its bucket is set, and passes it (and
every policy rule) once it is. Rendered as `kubectl apply -k` renders, like test_manifests."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.k8s.kustomize import K8S_DIR, OVERLAYS, example_dirs, render
from tests.k8s.objects import Rendered, accelerator_of, config_map_data
from tests.k8s.policy import CHECKS
from tests.k8s.secure_defaults import (
    PLACEHOLDER,
    check_model_store_is_yours,
    main,
    unpinned_versions,
)
from tests.paths import REPO_ROOT

TEMPLATE = K8S_DIR / "examples" / "my-cluster"


def copy_template(tmp_path: Path, **replace: str) -> Path:
    """The user's step: copy the template next to the examples (its relative paths must
    still resolve) and edit lines in place."""
    target = K8S_DIR / "examples" / f"test-copy-{tmp_path.name}"
    shutil.copytree(TEMPLATE, target)
    kustomization = target / "kustomization.yaml"
    text = kustomization.read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    kustomization.write_text(text)
    return target


@pytest.fixture
def user_overlay(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Path] = []

    def make(**replace: str) -> Path:
        made.append(copy_template(tmp_path, **replace))
        return made[-1]

    yield make
    for directory in made:
        shutil.rmtree(directory)


def rendered(directory: Path) -> Rendered:
    objects = render(directory)
    return Rendered(directory.name, objects, accelerator=accelerator_of(objects))


@pytest.mark.parametrize(
    "directory",
    [K8S_DIR / "overlays" / o for o in OVERLAYS] + example_dirs(),
    ids=lambda p: p.name,
)
def test_no_shipped_render_names_a_bucket_anyone_could_own(directory: Path) -> None:
    violations = check_model_store_is_yours(rendered(directory))
    assert not [v for v in violations if "anyone could own" in v], violations


def test_the_base_store_is_the_placeholder() -> None:
    store = config_map_data(render(K8S_DIR / "overlays" / "gpu"), "model-store")
    assert store is not None and store["MODEL_STORE_URL"] == f"store:{PLACEHOLDER}"


def test_the_template_as_shipped_fails_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    violations = check_model_store_is_yours(rendered(TEMPLATE))
    assert any("MODEL_STORE_URL" in v and "placeholder" in v for v in violations), violations
    assert main([str(TEMPLATE)]) == 1
    assert "set your own bucket" in capsys.readouterr().err


def test_the_template_with_a_bucket_passes_the_check_and_every_policy_rule(
    user_overlay, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = user_overlay(**{f"store:{PLACEHOLDER}": "store:acme-prod-inception-models"})
    result = rendered(directory)
    assert check_model_store_is_yours(result) == []
    assert main([str(directory)]) == 0
    assert "note: version 1 is not pinned" in capsys.readouterr().err
    failures = {name: check(result) for name, check in CHECKS.items()}
    assert {name: v for name, v in failures.items() if v} == {}
    store = config_map_data(result.objects, "model-store")
    assert store is not None and store["MODEL_STORE_URL"] == "store:acme-prod-inception-models"
    pods = [o["spec"]["template"]["spec"] for o in result.objects if o["kind"] == "Job"]
    images = {c["image"] for pod in pods for c in pod.get("initContainers", [])}
    assert "registry.example.com/inception-svm-exporter:0.1.0" in images


def test_the_offline_checkpoint_component_reads_the_checkpoint_from_the_bucket(
    user_overlay,
) -> None:
    directory = user_overlay(
        **{
            f"store:{PLACEHOLDER}": "store:acme-prod-inception-models",
            "  # - offline-checkpoint": "  - offline-checkpoint",
        }
    )
    result = rendered(directory)
    failures = {name: check(result) for name, check in CHECKS.items()}
    assert {name: v for name, v in failures.items() if v} == {}
    (job,) = [o for o in result.objects if o["kind"] == "Job"]
    fetch, export = job["spec"]["template"]["spec"]["initContainers"]
    assert fetch["name"] == "fetch-checkpoint"
    assert "$MODEL_STORE_URL/checkpoints/inception_v1_2016_08_28.tar.gz" in fetch["args"][0]
    assert "--checkpoint=/export/checkpoints/inception_v1_2016_08_28.tar.gz" in export["args"]
    assert not any("download.tensorflow.org" in arg for arg in export["args"])


def test_a_pinned_template_has_no_unpinned_versions(user_overlay) -> None:
    pin = "1=" + "ab" * 32
    directory = user_overlay(
        **{
            f"store:{PLACEHOLDER}": "store:acme-prod-inception-models",
            "MODEL_MANIFEST_SHA256S=\n": f"MODEL_MANIFEST_SHA256S={pin}\n",
        }
    )
    result = rendered(directory)
    assert unpinned_versions(result) == []
    source = config_map_data(result.objects, "model-source")
    assert source is not None and source["MODEL_MANIFEST_SHA256S"] == pin


def test_a_former_default_bucket_fails_the_check(user_overlay) -> None:
    directory = user_overlay(**{f"store:{PLACEHOLDER}": "store:inception-svm-models"})
    violations = check_model_store_is_yours(rendered(directory))
    assert any("anyone could own" in v for v in violations), violations


def test_every_apply_command_in_the_deploy_guide_renders() -> None:
    text = (REPO_ROOT / "docs" / "deploy.md").read_text()
    assert "cp -r k8s/examples/my-cluster $OVERLAY" in text
    documented = set(re.findall(r"kubectl (?:apply -k|kustomize) (k8s/[\w./-]+)", text))
    assert "k8s/examples/verify-job" in documented
    for directory in sorted(documented):
        assert render(REPO_ROOT / directory), directory
