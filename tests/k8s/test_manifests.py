"""The shipped overlays and examples render, validate and follow every policy rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.k8s.kustomize import K8S_DIR, OVERLAYS, example_dirs, render
from tests.k8s.policy import (
    CHECKS,
    SERVING_CONTAINER,
    Accelerator,
    Rendered,
    serving_container,
)


def rendered_overlay(overlay: Accelerator) -> Rendered:
    return Rendered(overlay, render(K8S_DIR / "overlays" / overlay), accelerator=overlay)


# The one flag an optional component may add to the documented command line.
EXAMPLE_EXTRA_ARGS = {"grpc-tls": ("--ssl_config_file=/tls/ssl_config.pbtxt",)}


def rendered_example(path: Path) -> Rendered:
    objects = render(path)
    server = serving_container(objects)
    is_gpu = server is not None and str(server.container["image"]).endswith("-gpu")
    return Rendered(
        path.name,
        objects,
        accelerator="gpu" if is_gpu else "cpu",
        extra_args=EXAMPLE_EXTRA_ARGS.get(path.name, ()),
    )


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_check(overlay: Accelerator, check: str) -> None:
    assert CHECKS[check](rendered_overlay(overlay)) == []


@pytest.mark.parametrize("example", example_dirs(), ids=lambda p: p.name)
def test_example_passes_every_check(example: Path) -> None:
    rendered = rendered_example(example)
    assert rendered.objects, f"{example} rendered nothing"
    violations = {name: check(rendered) for name, check in CHECKS.items()}
    assert {name: v for name, v in violations.items() if v} == {}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_deploys_the_whole_serving_stack(overlay: Accelerator) -> None:
    """Guards against the policy checks passing vacuously on a half-empty render."""
    objects = rendered_overlay(overlay).objects
    kinds = sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects)
    for expected in [
        ("Deployment", "inception-serving"),
        ("HorizontalPodAutoscaler", "inception-serving"),
        ("Namespace", "inception-svm"),
        ("NetworkPolicy", "inception-serving"),
        ("PodDisruptionBudget", "inception-serving"),
        ("Service", "inception-serving"),
        ("Service", "inception-serving-headless"),
    ]:
        assert expected in kinds
    assert all(
        obj["metadata"].get("namespace") == "inception-svm"
        for obj in objects
        if obj["kind"] != "Namespace"
    )
    headless = next(o for o in objects if o["metadata"]["name"] == "inception-serving-headless")
    assert headless["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_serving_is_probed_through_grpc_health(overlay: Accelerator) -> None:
    ref = serving_container(rendered_overlay(overlay).objects)
    assert ref is not None and ref.container["name"] == SERVING_CONTAINER
    assert "--enable_grpc_healthcheck_service=true" in ref.container["args"]
    for probe in ("startupProbe", "readinessProbe"):
        assert ref.container[probe]["grpc"]["port"] == 8500
    # REST model status answers 200 while no version is AVAILABLE: liveness only.
    assert "httpGet" in ref.container["livenessProbe"]


def test_examples_cover_every_component() -> None:
    """Each optional component is rendered (and so validated) through some example."""
    components = {p.parent.name for p in (K8S_DIR / "components").glob("*/kustomization.yaml")}
    examples = {p.name for p in example_dirs()}
    assert components and components <= examples


def test_gpu_overlay_differs_only_where_documented() -> None:
    cpu = serving_container(rendered_overlay("cpu").objects)
    gpu = serving_container(rendered_overlay("gpu").objects)
    assert cpu is not None and gpu is not None
    assert cpu.container["image"] == "tensorflow/serving:2.21.0"
    assert gpu.container["image"] == "tensorflow/serving:2.21.0-gpu"
    assert gpu.container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in cpu.container["resources"]["limits"]
    assert gpu.pod_spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    changed = [
        (a, b) for a, b in zip(cpu.container["args"], gpu.container["args"], strict=True) if a != b
    ]
    assert changed == [
        (
            "--batching_parameters_file=/config/batching_parameters.txt",
            "--batching_parameters_file=/config/batching_parameters_gpu.txt",
        )
    ]
