"""Rules that span objects: what a pod needs from the cluster and from the other objects.

- fit: a pod pinned to instance types fits on every one of them (tests/k8s/instance_types.py);
- references: every PVC, ConfigMap and Secret a pod uses exists (render, default install,
  or a documented prerequisite); claims the default storage classes cannot provision say
  which class they need;
- metrics: every custom metric an HPA scales on comes from an adapter rule we ship, reading
  a TF Serving series that a ServiceMonitor/PodMonitor in the same render scrapes;
- namespace_kept: Argo CD never deletes the namespace (and with it the model store).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import yaml

from tests.k8s import instance_types as it
from tests.k8s.kustomize import K8S_DIR, Manifest, render
from tests.k8s.objects import Check, Rendered, cpu_cores, objects_of_kind
from tests.k8s.pods import Pod, all_containers, pods

INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
GKE_ACCELERATOR = "cloud.google.com/gke-accelerator"
GKE_MACHINE_FAMILY = "cloud.google.com/machine-family"
AKS_ACCELERATOR = "kubernetes.azure.com/accelerator"
GPU = "nvidia.com/gpu"
ADAPTER_VALUES = K8S_DIR / "overlays" / "gpu" / "prometheus-adapter-values.yaml"
# TF Serving's metric names, as its Prometheus endpoint writes them ("/" -> ":"):
# tensorflow_serving/batching/batching_session.cc (queuing_latency) and
# tensorflow_serving/servables/tensorflow/util.cc (request_count, request_latency).
TF_SERVING_SERIES = frozenset(
    {
        ":tensorflow:serving:batching_session:queuing_latency_bucket",
        ":tensorflow:serving:request_count",
        ":tensorflow:serving:request_latency_bucket",
    }
)
# Objects a user creates before applying, each with the doc that says how.
PREREQUISITES: dict[tuple[str, str], str] = {
    ("Secret", "inception-serving-tls"): "k8s/README.md#security (grpc-tls: cert-manager or "
    "`kubectl create secret tls`)",
}
# The default StorageClasses of EKS (gp2/gp3, ebs.csi.aws.com), GKE (standard-rwo,
# pd.csi.storage.gke.io) and AKS (managed-csi, disk.csi.azure.com) provision ReadWriteOnce
# (ReadWriteOncePod) only: aws-ebs-csi pkg/driver/controller.go, gce-pd-csi controller.go
# ("VolumeContentSource must be provided when AccessMode is set to read only"),
# azuredisk-csi pkg/azureutils/azure_disk_utils.go. EFS rejects ReadOnlyMany
# (aws-efs-csi-driver pkg/driver/controller.go): shared claims are RWX, mounted read-only.
DEFAULT_CLASS_MODES = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})


# ---------------------------------------------------------------- fit


def _quantity_bytes(value: Any) -> int:
    text = str(value)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(float(text))


def effective_requests(spec: dict[str, Any]) -> tuple[int, int, int]:
    """(millicores, bytes, GPUs) the scheduler reserves, per resource, as
    k8s.io/component-helpers resource.PodRequests computes it: the app containers plus every
    sidecar (restartable init container), or, if larger, an init container plus the sidecars
    started before it."""

    def requests(c: dict[str, Any]) -> tuple[int, int, int]:
        r = (c.get("resources") or {}).get("requests") or {}
        limits = (c.get("resources") or {}).get("limits") or {}
        return (
            int(cpu_cores(r.get("cpu", 0)) * 1000),
            _quantity_bytes(r.get("memory", 0)),
            int(r.get(GPU, limits.get(GPU, 0))),
        )

    def add(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2])

    sidecars, peak = (0, 0, 0), (0, 0, 0)
    for init in spec.get("initContainers") or []:
        if init.get("restartPolicy") == "Always":
            sidecars = add(sidecars, requests(init))
            running = sidecars
        else:
            running = add(sidecars, requests(init))
        peak = (max(peak[0], running[0]), max(peak[1], running[1]), max(peak[2], running[2]))
    total = sidecars
    for container in spec.get("containers") or []:
        total = add(total, requests(container))
    return (max(total[0], peak[0]), max(total[1], peak[1]), max(total[2], peak[2]))


def _required_terms(spec: dict[str, Any]) -> list[dict[str, set[str]]]:
    """Each required node-affinity term as {label: allowed values} (In only)."""
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = []
    for term in affinity.get("nodeSelectorTerms") or [{}]:
        allowed = {}
        for expr in term.get("matchExpressions") or []:
            if expr.get("operator") == "In":
                allowed[expr["key"]] = set(expr.get("values") or [])
        terms.append(allowed)
    return terms or [{}]


def candidate_types(spec: dict[str, Any]) -> tuple[set[str], list[str]]:
    """The instance types a pod may land on (empty: not pinned), and unknown names."""
    candidates: set[str] = set()
    unknown: list[str] = []
    selector = spec.get("nodeSelector") or {}
    for term in _required_terms(spec):
        labels = {k: {v} for k, v in selector.items()} | {
            k: v & {selector[k]} if k in selector else v for k, v in term.items()
        }
        types: set[str] | None = None

        def narrow(allowed: set[str], current: set[str] | None) -> set[str]:
            return allowed if current is None else current & allowed

        for key in INSTANCE_TYPE_LABELS:
            if key in labels:
                unknown += sorted(labels[key] - set(it.INSTANCE_TYPES))
                types = narrow(labels[key], types)
        if GKE_ACCELERATOR in labels:
            gke: set[str] = set()
            for accelerator in labels[GKE_ACCELERATOR]:
                if accelerator not in it.GKE_ACCELERATOR_MACHINES:
                    unknown.append(f"{GKE_ACCELERATOR}={accelerator}")
                gke |= set(it.GKE_ACCELERATOR_MACHINES.get(accelerator, ()))
            types = narrow(gke, types)
        if GKE_MACHINE_FAMILY in labels:
            family = {n for n in it.INSTANCE_TYPES if n.split("-")[0] in labels[GKE_MACHINE_FAMILY]}
            types = narrow(family, types)
        if AKS_ACCELERATOR in labels:
            types = narrow(set(it.AKS_GPU_SIZES), types)
        candidates |= types or set()
    return candidates & set(it.INSTANCE_TYPES), unknown


def fit_violations(owner: str, spec: dict[str, Any], types: set[str]) -> list[str]:
    cpu, memory, gpus = effective_requests(spec)
    found = []
    for name in sorted(types):
        free_cpu, free_memory, free_gpus = it.schedulable(it.INSTANCE_TYPES[name])
        if cpu > free_cpu or memory > free_memory or gpus > free_gpus:
            found.append(
                f"{owner}: requests {cpu}m CPU, {memory / 2**30:.1f}Gi, {gpus} GPU; "
                f"{name} leaves {free_cpu}m, {free_memory / 2**30:.1f}Gi, {free_gpus} GPU "
                "after the node's reserve and DaemonSets"
            )
    return found


def check_fit(rendered: Rendered) -> list[str]:
    """A pod pinned to instance types fits on each of them (else it stays Pending there)."""
    violations = []
    for pod in pods(rendered.objects):
        types, unknown = candidate_types(pod.spec)
        violations += [f"{pod.owner}: {u} is not in tests/k8s/instance_types.py" for u in unknown]
        violations += fit_violations(pod.owner, pod.spec, types)
    return violations


# ---------------------------------------------------------------- references


def _uses(pod: Pod) -> Iterator[tuple[str, str]]:
    """(kind, name) of every non-optional PVC, ConfigMap and Secret the pod needs."""
    for volume in pod.spec.get("volumes") or []:
        if "persistentVolumeClaim" in volume:
            yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
        for kind, key, name_key in (
            ("ConfigMap", "configMap", "name"),
            ("Secret", "secret", "secretName"),
        ):
            if key in volume and not volume[key].get("optional"):
                yield kind, volume[key][name_key]
        for source in (volume.get("projected") or {}).get("sources") or []:
            for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                if key in source and not source[key].get("optional"):
                    yield kind, source[key]["name"]
    for container in all_containers(pod.spec):
        for ref in container.get("envFrom") or []:
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in ref and not ref[key].get("optional"):
                    yield kind, ref[key]["name"]
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if key in source and not source[key].get("optional"):
                    yield kind, source[key]["name"]
    for secret in pod.spec.get("imagePullSecrets") or []:
        yield "Secret", secret["name"]


@functools.cache
def default_install() -> frozenset[tuple[str, str]]:
    """What `kubectl apply -k k8s/overlays/cpu` (or gpu) has created in the namespace."""
    return frozenset(
        (o["kind"], o["metadata"]["name"])
        for overlay in ("cpu", "gpu")
        for o in render(K8S_DIR / "overlays" / overlay)
    )


def check_references(rendered: Rendered) -> list[str]:
    """A pod whose claim, ConfigMap or Secret does not exist stays Pending/ContainerCreating."""
    present = {(o["kind"], o["metadata"]["name"]) for o in rendered.objects}
    violations = []
    for pod in pods(rendered.objects):
        for ref in sorted(set(_uses(pod))):
            if ref not in present and ref not in default_install() and ref not in PREREQUISITES:
                violations.append(
                    f"{pod.owner} uses {ref[0]} {ref[1]!r}, which neither this render nor the "
                    "default install creates, and which is no documented prerequisite"
                )
    for claim in objects_of_kind(rendered.objects, "PersistentVolumeClaim"):
        spec = claim["spec"]
        modes = set(spec.get("accessModes") or [])
        name = claim["metadata"]["name"]
        if "ReadOnlyMany" in modes and "dataSource" not in spec and "volumeName" not in spec:
            violations.append(
                f"PersistentVolumeClaim {name!r}: ReadOnlyMany with nothing to read "
                "(no dataSource/volumeName) is refused by EBS, PD, Azure Disk and EFS; use "
                "ReadWriteMany on a shared class and mount it readOnly"
            )
        elif modes - DEFAULT_CLASS_MODES and not spec.get("storageClassName"):
            violations.append(
                f"PersistentVolumeClaim {name!r}: {sorted(modes)} on the default "
                "StorageClass (EBS / PD / Azure Disk: ReadWriteOnce only) stays Pending"
            )
    return violations


# ---------------------------------------------------------------- metrics


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    match = selector.get("matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def _scraped_pod_labels(objects: tuple[Manifest, ...]) -> list[dict[str, str]]:
    """Pod label sets some ServiceMonitor (through its Service) or PodMonitor scrapes."""
    scraped = []
    workloads = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet")]
    pod_labels = [w["spec"]["template"]["metadata"].get("labels") or {} for w in workloads]
    for monitor in objects_of_kind(objects, "PodMonitor"):
        scraped += [lbl for lbl in pod_labels if _selects(monitor["spec"]["selector"], lbl)]
    for monitor in objects_of_kind(objects, "ServiceMonitor"):
        for service in objects_of_kind(objects, "Service"):
            service_labels = service["metadata"].get("labels") or {}
            if not _selects(monitor["spec"]["selector"], service_labels):
                continue
            selector = {"matchLabels": service["spec"].get("selector") or {}}
            scraped += [lbl for lbl in pod_labels if _selects(selector, lbl)]
    return scraped


def adapter_rules() -> dict[str, str]:
    """Metric name -> series the shipped prometheus-adapter rules serve it from."""
    values = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]
    rules = {}
    for rule in [*(values.get("custom") or []), *(values.get("external") or [])]:
        series = re.fullmatch(r'\{__name__="([^"]+)",.*\}', rule["seriesQuery"])
        rules[rule["name"]["as"]] = series.group(1) if series else rule["seriesQuery"]
    return rules


def check_metrics(rendered: Rendered) -> list[str]:
    """An HPA metric nobody produces leaves the HPA at "unknown": it never scales."""
    violations = []
    scraped = _scraped_pod_labels(rendered.objects)
    for hpa in objects_of_kind(rendered.objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        workload = next(
            (
                o
                for o in rendered.objects
                if o.get("kind") == target["kind"] and o["metadata"]["name"] == target["name"]
            ),
            None,
        )
        labels = (workload or {}).get("spec", {}).get("template", {}).get("metadata", {})
        target_labels = labels.get("labels") or {}
        for metric in hpa["spec"].get("metrics") or []:
            kind = metric["type"]
            if kind == "Resource" or kind == "ContainerResource":
                continue
            name = metric[kind[0].lower() + kind[1:]]["metric"]["name"]
            where = f"HorizontalPodAutoscaler/{hpa['metadata']['name']} metric {name!r}"
            series = adapter_rules().get(name)
            if series is None:
                violations.append(f"{where}: no rule in {ADAPTER_VALUES.name} serves it")
            elif series not in TF_SERVING_SERIES:
                violations.append(f"{where}: rule reads {series}, which TF Serving never exports")
            if not any(all(s.get(k) == v for k, v in target_labels.items()) for s in scraped):
                violations.append(
                    f"{where}: no ServiceMonitor/PodMonitor in this render scrapes "
                    f"{target['kind']}/{target['name']} (kube-prometheus-stack ignores "
                    "prometheus.io/* annotations): add components/service-monitor"
                )
    return violations


# ---------------------------------------------------------------- Argo CD


def check_namespace_kept(rendered: Rendered) -> list[str]:
    """Argo CD cascade-deletes what its Application owns; deleting the Namespace deletes every
    PVC in it, whatever their own annotations (argo-cd controller/appcontroller.go reads
    Delete=false per resource)."""
    violations = []
    for namespace in objects_of_kind(rendered.objects, "Namespace"):
        options = (namespace["metadata"].get("annotations") or {}).get(
            "argocd.argoproj.io/sync-options", ""
        )
        if "Delete=false" not in options.split(","):
            violations.append(
                f"Namespace/{namespace['metadata']['name']}: no argocd.argoproj.io/sync-options "
                "Delete=false: deleting the Argo CD Application deletes it and its volumes"
            )
    return violations


CHECKS: dict[str, Check] = {
    "fit": check_fit,
    "references": check_references,
    "metrics": check_metrics,
    "namespace_kept": check_namespace_kept,
}
