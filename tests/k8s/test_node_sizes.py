"""The GPU node sizes k8s/README.md recommends are the ones that fit the GPU pod, the ones it
calls too small do not, and each cloud component pins only recommended sizes."""

from __future__ import annotations

import re

import pytest

from tests.k8s import instance_types as it
from tests.k8s.cluster_policy import candidate_types, effective_requests
from tests.k8s.kustomize import K8S_DIR, render
from tests.k8s.objects import serving_container

TABLE = re.compile(r"<!-- gpu-node-sizes -->\n(.*?)<!-- /gpu-node-sizes -->", re.DOTALL)
CLOUDS = {"EKS": "eks", "GKE (L4)": "gke", "AKS": "aks"}


def documented() -> dict[str, tuple[set[str], set[str]]]:
    """cloud -> (sizes that fit, sizes too small), as the README table names them."""
    match = TABLE.search((K8S_DIR / "README.md").read_text())
    assert match is not None, "k8s/README.md lost its gpu-node-sizes table"
    rows = {}
    for line in match.group(1).splitlines()[2:]:
        cloud, fits, small = (cell.strip() for cell in line.strip("|").split("|"))
        rows[CLOUDS[cloud]] = (
            set(re.findall(r"`([^`]+)`", fits)),
            set(re.findall(r"`([^`]+)`", small)),
        )
    return rows


def gpu_pod_requests() -> tuple[int, int, int]:
    ref = serving_container(render(K8S_DIR / "overlays" / "gpu"))
    assert ref is not None
    return effective_requests(ref.pod_spec)


def fits(name: str) -> bool:
    free = it.schedulable(it.INSTANCE_TYPES[name])
    return all(need <= have for need, have in zip(gpu_pod_requests(), free, strict=True))


@pytest.mark.parametrize("cloud", ["eks", "gke", "aks"])
def test_documented_sizes_are_right(cloud: str) -> None:
    good, small = documented()[cloud]
    assert good and small
    assert all(it.INSTANCE_TYPES[n].cloud == cloud for n in good | small)
    assert [n for n in sorted(good) if not fits(n)] == []
    assert [n for n in sorted(small) if fits(n)] == []


@pytest.mark.parametrize("cloud", ["eks", "gke", "aks"])
def test_component_pins_only_recommended_sizes(cloud: str) -> None:
    objects = render(K8S_DIR / "examples" / f"gpu-{cloud}")
    ref = serving_container(objects)
    assert ref is not None
    pinned, unknown = candidate_types(ref.pod_spec)
    assert unknown == [] and pinned
    assert pinned <= documented()[cloud][0]


def test_gpu_pod_requests_include_the_sidecar() -> None:
    cpu, memory, gpus = gpu_pod_requests()
    assert (cpu, gpus) == (8050, 1) and memory >= 4 * 2**30
