"""The rules every rendered manifest set must follow, one function per rule.

Each check takes the rendered objects and returns human-readable violations (empty means
compliant), so the same function runs against the real overlays (must be empty) and
against the bad fixtures in fixtures/bad/ (must not be), proving that each one can fail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import kubernetes_validate

from tests.k8s.kustomize import Manifest
from tests.paths import SERVING_DIR

Accelerator = Literal["cpu", "gpu"]

SERVING_DEPLOYMENT = "inception-serving"
SERVING_CONTAINER = "tensorflow-serving"
SERVING_CONFIGMAP_PREFIX = "tf-serving-config"
ARGS_FILE = SERVING_DIR / "tensorflow_model_server.args"
CPU_BATCHING_ARG = "--batching_parameters_file=/config/batching_parameters.txt"
GPU_BATCHING_ARG = "--batching_parameters_file=/config/batching_parameters_gpu.txt"
OLDEST_SUPPORTED_K8S = "1.30"
# Kinds from CRDs that kubernetes-validate has no schema for; listed, never guessed.
CRD_KINDS = frozenset({("monitoring.coreos.com/v1", "ServiceMonitor")})
POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})
LONG_RUNNING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


@dataclasses.dataclass(frozen=True)
class Rendered:
    """One rendered kustomization and what it is meant to run on."""

    name: str
    objects: tuple[Manifest, ...]
    accelerator: Accelerator = "cpu"
    # Flags an optional component appends after the documented ones (e.g. TLS).
    extra_args: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ContainerRef:
    workload: str
    kind: str
    is_init: bool
    container: dict[str, Any]
    pod_spec: dict[str, Any]

    @property
    def label(self) -> str:
        role = "initContainer" if self.is_init else "container"
        return f"{self.workload} {role} {self.container.get('name')}"


def pod_spec_of(obj: Manifest) -> dict[str, Any] | None:
    if obj.get("kind") not in POD_TEMPLATE_KINDS:
        return None
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def containers(objects: tuple[Manifest, ...]) -> Iterator[ContainerRef]:
    for obj in objects:
        pod_spec = pod_spec_of(obj)
        if pod_spec is None:
            continue
        workload = f"{obj['kind']}/{obj['metadata']['name']}"
        for is_init, key in ((True, "initContainers"), (False, "containers")):
            for container in pod_spec.get(key) or []:
                yield ContainerRef(workload, obj["kind"], is_init, container, pod_spec)


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


def documented_args(accelerator: Accelerator) -> list[str]:
    """serving/tensorflow_model_server.args, with the one allowed GPU substitution."""
    lines = [
        line.strip()
        for line in ARGS_FILE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if accelerator == "gpu":
        lines = [GPU_BATCHING_ARG if line == CPU_BATCHING_ARG else line for line in lines]
    return lines


def serving_container(objects: tuple[Manifest, ...]) -> ContainerRef | None:
    for ref in containers(objects):
        if (
            ref.workload == f"Deployment/{SERVING_DEPLOYMENT}"
            and not ref.is_init
            and ref.container.get("name") == SERVING_CONTAINER
        ):
            return ref
    return None


def check_serving_args(rendered: Rendered) -> list[str]:
    ref = serving_container(rendered.objects)
    if ref is None:
        return []
    expected = documented_args(rendered.accelerator) + list(rendered.extra_args)
    actual = list(ref.container.get("args") or [])
    if actual != expected:
        return [
            f"{ref.label}: args {actual} != {ARGS_FILE.name} ({rendered.accelerator}) {expected}"
        ]
    if ref.container.get("command") != ["tensorflow_model_server"]:
        return [f"{ref.label}: command must be the bare server binary, not the image entrypoint"]
    return []


def check_serving_configmap(rendered: Rendered) -> list[str]:
    """Every key of the serving ConfigMap is a byte-identical copy of serving/<key>."""
    config_maps = [
        obj
        for obj in rendered.objects
        if obj.get("kind") == "ConfigMap"
        and obj["metadata"]["name"].startswith(SERVING_CONFIGMAP_PREFIX)
    ]
    if serving_container(rendered.objects) is None and not config_maps:
        return []
    if len(config_maps) != 1:
        return [f"expected one {SERVING_CONFIGMAP_PREFIX} ConfigMap, found {len(config_maps)}"]
    data: dict[str, str] = config_maps[0].get("data") or {}
    violations = []
    for key, content in sorted(data.items()):
        source = SERVING_DIR / Path(key).name
        if not source.is_file():
            violations.append(f"ConfigMap key {key} has no source file in serving/")
        elif content != source.read_text():
            violations.append(f"ConfigMap key {key} differs from serving/{key}")
    required = {"models.config", "monitoring.config"}
    required.add(
        "batching_parameters_gpu.txt"
        if rendered.accelerator == "gpu"
        else "batching_parameters.txt"
    )
    violations += [f"ConfigMap lacks {key}" for key in sorted(required - data.keys())]
    return violations


Check = Callable[[Rendered], list[str]]

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
    "serving_args": check_serving_args,
    "serving_configmap": check_serving_configmap,
}
