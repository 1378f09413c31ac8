"""The rules every rendered manifest set must follow, one function per rule.

Each check takes the rendered objects and returns human-readable violations (empty means
compliant), so the same function runs against the real overlays (must be empty) and
against the bad fixtures in fixtures/bad/ (must not be), proving that each one can fail.
Per-object rules are here and in serving_policy.py / job_policy.py; rules that span objects
(a pod and the nodes, namespace, claims, ConfigMaps, monitors it depends on) are in
admission_policy.py and cluster_policy.py.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from tests.k8s import admission_policy, cluster_policy, job_policy, serving_policy
from tests.k8s.objects import (
    LONG_RUNNING_KINDS,
    Check,
    ContainerRef,
    Rendered,
    containers,
    pod_spec_of,
)

OLDEST_SUPPORTED_K8S = "1.30"
# Kinds from CRDs that kubernetes-validate has no schema for. InferenceService is validated
# against KServe's vendored schema by check_kserve_schema; the others are listed, never
# guessed.
CRD_KINDS = frozenset(
    {
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("argoproj.io/v1alpha1", "Application"),
        ("serving.kserve.io/v1beta1", "InferenceService"),
        ("serving.kserve.io/v1alpha1", "ClusterStorageContainer"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
    }
)


def _effective(ref: ContainerRef, field: str) -> Any:
    """Container securityContext wins over the pod's, as in the kubelet."""
    own = (ref.container.get("securityContext") or {}).get(field)
    return own if own is not None else (ref.pod_spec.get("securityContext") or {}).get(field)


def check_schema(rendered: Rendered) -> list[str]:
    violations = []
    versions = (OLDEST_SUPPORTED_K8S, kubernetes_validate.latest_version())
    for obj in rendered.objects:
        if (obj.get("apiVersion"), obj.get("kind")) in CRD_KINDS:
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                violations.append(
                    f"{obj['kind']}/{obj['metadata']['name']} k8s {version}: {path}: {exc.message}"
                )
            except kubernetes_validate.SchemaNotFoundError as exc:
                violations.append(exc.message)
    return violations


def check_resources(rendered: Rendered) -> list[str]:
    violations = []
    for ref in containers(rendered.objects):
        resources = ref.container.get("resources") or {}
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(bound) or {}):
                    violations.append(f"{ref.label}: no {bound}.{resource}")
    return violations


def check_probes(rendered: Rendered) -> list[str]:
    violations = []
    for ref in containers(rendered.objects):
        if ref.is_init or ref.kind not in LONG_RUNNING_KINDS:
            continue
        for probe in ("readinessProbe", "livenessProbe"):
            if not ref.container.get(probe):
                violations.append(f"{ref.label}: no {probe}")
    return violations


def check_pinned_images(rendered: Rendered) -> list[str]:
    violations = []
    for ref in containers(rendered.objects):
        image = str(ref.container.get("image", ""))
        if "@sha256:" in image:
            continue
        name, _, tag = image.rpartition(":")
        if not name or "/" in tag or tag in ("", "latest") or tag.startswith("latest-"):
            violations.append(f"{ref.label}: image {image!r} is not pinned to a version tag")
    return violations


def check_run_as_non_root(rendered: Rendered) -> list[str]:
    return [
        f"{ref.label}: runAsNonRoot is not true"
        for ref in containers(rendered.objects)
        if _effective(ref, "runAsNonRoot") is not True
    ]


def check_read_only_root_fs(rendered: Rendered) -> list[str]:
    return [
        f"{ref.label}: readOnlyRootFilesystem is not true"
        for ref in containers(rendered.objects)
        if (ref.container.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True
    ]


def check_no_privilege_escalation(rendered: Rendered) -> list[str]:
    return [
        f"{ref.label}: allowPrivilegeEscalation is not false"
        for ref in containers(rendered.objects)
        if (ref.container.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False
    ]


def check_capabilities_dropped(rendered: Rendered) -> list[str]:
    violations = []
    for ref in containers(rendered.objects):
        caps = (ref.container.get("securityContext") or {}).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []) or caps.get("add"):
            violations.append(f"{ref.label}: capabilities must drop ALL and add none")
    return violations


def check_seccomp(rendered: Rendered) -> list[str]:
    return [
        f"{ref.label}: seccompProfile is not RuntimeDefault"
        for ref in containers(rendered.objects)
        if (_effective(ref, "seccompProfile") or {}).get("type") != "RuntimeDefault"
    ]


def check_no_token_mount(rendered: Rendered) -> list[str]:
    """None of our workloads calls the Kubernetes API, so none gets a token."""
    violations = []
    for obj in rendered.objects:
        pod_spec = pod_spec_of(obj)
        if pod_spec is not None and pod_spec.get("automountServiceAccountToken") is not False:
            violations.append(f"{obj['kind']}/{obj['metadata']['name']}: token is mounted")
    return violations


CHECKS: dict[str, Check] = {
    "schema": check_schema,
    "resources": check_resources,
    "probes": check_probes,
    "pinned_images": check_pinned_images,
    "run_as_non_root": check_run_as_non_root,
    "read_only_root_fs": check_read_only_root_fs,
    "no_privilege_escalation": check_no_privilege_escalation,
    "capabilities_dropped": check_capabilities_dropped,
    "seccomp": check_seccomp,
    "no_token_mount": check_no_token_mount,
    "admission": admission_policy.check_admission,
    **cluster_policy.CHECKS,
    **serving_policy.CHECKS,
    **job_policy.CHECKS,
}
