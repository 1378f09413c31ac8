"""What a node of each GPU instance type we name can give a pod, per cloud.

Capacity is the cloud's published size; from it we subtract what the cloud's node image
reserves (kube-reserved + eviction threshold, each cloud's own formula) and a budget for the
DaemonSets every node of that cloud runs. The rest is what one pod may request. Figures
marked [doc-copy] come from re-hosted copies of vendor pages; check a real node with
`kubectl describe node` (Allocatable) before trusting the last 100m.

Sources (also /work/notes/k8s_facts.md sections 1.1-1.4):
- EKS sizes: AWS Batch GPU table, docs.aws.amazon.com/batch/latest/userguide/gpu-jobs.html
  and aws.amazon.com/ec2/instance-types/{g4,g5,g6} [doc-copy]; max pods from
  awslabs/amazon-eks-ami nodeadm/internal/kubelet/instance-info.jsonl (ENIs x (IPs-1) + 2).
- EKS reserve: amazon-eks-ami@81fec2e8 nodeadm/internal/kubelet/config.go (kubeReserved CPU
  brackets 6/1/0.5/0.25 %, memory 11 x maxPods + 255 MiB; evictionHard 100Mi), VM memory
  overhead 7.5 % as Karpenter assumes (charts/karpenter values vmMemoryOverheadPercent).
- GKE sizes: cloud.google.com/compute/docs/accelerator-optimized-machines#g2-series
  [doc-copy]; reserve: cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes,
  mirrored in kubernetes/autoscaler cluster-autoscaler/cloudprovider/gce/reserved.go.
- AKS sizes: learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/nct4v3-series
  and nvadsa10v5-series [doc-copy]; reserve: learn.microsoft.com/azure/aks/
  node-resource-reservations (CPU table; memory min(20 MB x maxPods + 50 MB, 25 %) + 100Mi
  eviction for AKS >= 1.29), maxPods 30 (Azure CNI node subnet, the smallest default).
- DaemonSet budgets: aws-node 25m + kube-proxy 100m + CSI/pod-identity agents (EKS); GKE's
  kube-proxy, fluentbit, metadata server, pdcsi, netd, nvidia device plugin 50m/20Mi; AKS's
  kube-proxy, cloud-node-manager, CSI nodes, azure-cns [est, rounded up].
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Cloud = Literal["eks", "gke", "aks"]

MIB = 1024**2
GIB = 1024**3


@dataclasses.dataclass(frozen=True)
class InstanceType:
    cloud: Cloud
    name: str
    vcpu: int
    memory_gib: float
    gpus: int
    # EKS only: max pods with the VPC CNI without prefix delegation.
    max_pods: int = 30


def _eks(name: str, vcpu: int, mem: int, max_pods: int) -> InstanceType:
    return InstanceType("eks", name, vcpu, mem, 1, max_pods)


INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        # EKS: g4dn (T4 16 GiB), g5 (A10G 24 GiB), g6 (L4 24 GiB); one GPU up to .8xlarge.
        _eks("g4dn.xlarge", 4, 16, 29),
        _eks("g4dn.2xlarge", 8, 32, 29),
        _eks("g4dn.4xlarge", 16, 64, 29),
        _eks("g4dn.8xlarge", 32, 128, 58),
        _eks("g5.xlarge", 4, 16, 58),
        _eks("g5.2xlarge", 8, 32, 58),
        _eks("g5.4xlarge", 16, 64, 234),
        _eks("g5.8xlarge", 32, 128, 234),
        _eks("g6.xlarge", 4, 16, 58),
        _eks("g6.2xlarge", 8, 32, 58),
        _eks("g6.4xlarge", 16, 64, 234),
        _eks("g6.8xlarge", 32, 128, 234),
        # GKE G2 (L4); memory in GB as Google publishes it (treated as GiB: errs small).
        InstanceType("gke", "g2-standard-4", 4, 16, 1),
        InstanceType("gke", "g2-standard-8", 8, 32, 1),
        InstanceType("gke", "g2-standard-12", 12, 48, 1),
        InstanceType("gke", "g2-standard-16", 16, 64, 1),
        InstanceType("gke", "g2-standard-24", 24, 96, 2),
        InstanceType("gke", "g2-standard-32", 32, 128, 1),
        # AKS NCasT4_v3 (T4 16 GiB) and NVadsA10_v5 (A10 slices; the device plugin
        # advertises each slice as one nvidia.com/gpu).
        InstanceType("aks", "Standard_NC4as_T4_v3", 4, 28, 1),
        InstanceType("aks", "Standard_NC8as_T4_v3", 8, 56, 1),
        InstanceType("aks", "Standard_NC16as_T4_v3", 16, 110, 1),
        InstanceType("aks", "Standard_NC64as_T4_v3", 64, 440, 4),
        InstanceType("aks", "Standard_NV36ads_A10_v5", 36, 440, 1),
    )
}

# Machine types a GKE accelerator label can land on (node pools are created per type).
GKE_ACCELERATOR_MACHINES = {
    "nvidia-l4": tuple(n for n, t in INSTANCE_TYPES.items() if n.startswith("g2-")),
}
# AKS labels every GPU node kubernetes.azure.com/accelerator=nvidia, whatever its size.
AKS_GPU_SIZES = tuple(n for n, t in INSTANCE_TYPES.items() if t.cloud == "aks")

# Per-node DaemonSet requests we budget for (millicores, bytes).
DAEMONSET_BUDGET: dict[Cloud, tuple[int, int]] = {
    "eks": (250, 300 * MIB),
    "gke": (450, 600 * MIB),
    "aks": (450, 600 * MIB),
}
EVICTION_HARD = 100 * MIB
# AKS CPU reserve by core count (node-resource-reservations table).
AKS_CPU_RESERVE_M = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}


def _bracket_cpu_reserve_m(cores: int) -> int:
    """EKS nodeadm and GKE: 6 % of core 1, 1 % of core 2, 0.5 % of cores 3-4, 0.25 % above."""
    millis = 60.0 + (10 if cores >= 2 else 0) + 5 * max(0, min(cores, 4) - 2)
    return int(millis + 2.5 * max(0, cores - 4))


def _gke_memory_reserve(capacity: int) -> int:
    """25 % of the first 4 GB, 20 % of the next 4, 10 % of the next 8, 6 % to 128 GB, 2 %
    above (GB = 1000 MiB in reserved.go)."""
    gb = 1000 * MIB
    brackets = ((4 * gb, 0.25), (4 * gb, 0.20), (8 * gb, 0.10), (112 * gb, 0.06))
    left, reserve = capacity, 0.0
    for size, share in brackets:
        part = min(left, size)
        reserve += part * share
        left -= part
    return int(reserve + left * 0.02)


def allocatable(t: InstanceType) -> tuple[int, int]:
    """(millicores, bytes) the kubelet reports as Allocatable on an empty node."""
    capacity = int(t.memory_gib * GIB)
    if t.cloud == "eks":
        cpu = t.vcpu * 1000 - _bracket_cpu_reserve_m(t.vcpu)
        visible = int(capacity * (1 - 0.075))
        memory = visible - (11 * t.max_pods + 255) * MIB - EVICTION_HARD
    elif t.cloud == "gke":
        cpu = t.vcpu * 1000 - _bracket_cpu_reserve_m(t.vcpu)
        kernel = capacity // 64 + 16 * MIB + (64 * MIB if capacity > 3 * GIB else 0)
        visible = capacity - kernel
        memory = visible - _gke_memory_reserve(visible) - EVICTION_HARD
    else:
        cpu = t.vcpu * 1000 - AKS_CPU_RESERVE_M[t.vcpu if t.vcpu in AKS_CPU_RESERVE_M else 64]
        kube = min(20 * 1000**2 * t.max_pods + 50 * 1000**2, capacity // 4)
        memory = capacity - kube - EVICTION_HARD
    return cpu, memory


def schedulable(t: InstanceType) -> tuple[int, int, int]:
    """(millicores, bytes, GPUs) left for our pod after the cloud's DaemonSets."""
    cpu, memory = allocatable(t)
    daemon_cpu, daemon_memory = DAEMONSET_BUDGET[t.cloud]
    return cpu - daemon_cpu, memory - daemon_memory, t.gpus
