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


def test_accelerator_labels_alone_reach_every_size() -> None:
    """What the components pinned before: a GPU type label, no size, so the smallest pool of
    that GPU (g2-standard-4, NC4as_T4_v3) is a candidate and the 8-CPU pod does not fit."""
    gke, _ = candidate_types({"nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"}})
    aks, _ = candidate_types({"nodeSelector": {"kubernetes.azure.com/accelerator": "nvidia"}})
    assert {"g2-standard-4", "g2-standard-8"} <= gke and "Standard_NC4as_T4_v3" in aks
    family, _ = candidate_types(
        {
            "nodeSelector": {
                "cloud.google.com/gke-accelerator": "nvidia-l4",
                "cloud.google.com/machine-family": "g2",
            }
        }
    )
    assert family == gke
    _, unknown = candidate_types(
        {"nodeSelector": {"node.kubernetes.io/instance-type": "p5.48xlarge"}}
    )
    assert unknown == ["p5.48xlarge"]


def test_effective_requests_count_sidecars_and_the_largest_init_container() -> None:
    """k8s.io/component-helpers resource.PodRequests: max(containers + restartable init
    containers, largest plain init container), per resource."""

    def container(cpu: str, memory: str, **extra: str) -> dict[str, object]:
        return {"resources": {"requests": {"cpu": cpu, "memory": memory}}, **extra}

    spec = {
        "initContainers": [
            container("3", "1Gi"),
            container("100m", "64Mi", restartPolicy="Always"),
        ],
        "containers": [container("2", "2Gi")],
    }
    assert effective_requests(spec) == (3000, 2 * 2**30 + 64 * 2**20, 0)


def test_an_init_container_after_a_sidecar_runs_beside_it() -> None:
    """The bulk Job's order: restore, the upload sidecar, then classify as an init container."""
    job = render(K8S_DIR / "examples" / "bulk-classify")
    spec = next(o for o in job if o["kind"] == "Job")["spec"]["template"]["spec"]
    cpu, _, _ = effective_requests(spec)
    assert cpu == 1000 + 100  # classify (1 CPU) while the upload sidecar (100m) runs
