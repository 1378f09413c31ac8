"""Typed views of a rendered manifest set, shared by the policy rules and the tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, Literal

from tests.k8s.kustomize import Manifest

Accelerator = Literal["cpu", "gpu"]

SERVING_DEPLOYMENT = "inception-serving"
SERVING_CONTAINER = "tensorflow-serving"
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


# A policy rule: what is wrong with a render, one line per violation (none: it passes).
Check = Callable[[Rendered], list[str]]


@dataclasses.dataclass(frozen=True)
class ContainerRef:
    workload: str
    kind: str
    is_init: bool
    container: dict[str, Any]
    pod_spec: dict[str, Any]
    workload_object: Manifest

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
                yield ContainerRef(workload, obj["kind"], is_init, container, pod_spec, obj)


def serving_container(objects: tuple[Manifest, ...]) -> ContainerRef | None:
    for ref in containers(objects):
        if (
            ref.workload == f"Deployment/{SERVING_DEPLOYMENT}"
            and not ref.is_init
            and ref.container.get("name") == SERVING_CONTAINER
        ):
            return ref
    return None


def accelerator_of(objects: tuple[Manifest, ...]) -> Accelerator:
    """GPU when the serving container runs TF Serving's -gpu image flavour."""
    server = serving_container(objects)
    is_gpu = server is not None and str(server.container["image"]).endswith("-gpu")
    return "gpu" if is_gpu else "cpu"


def objects_of_kind(objects: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [obj for obj in objects if obj.get("kind") == kind]


def config_map_data(objects: tuple[Manifest, ...], prefix: str) -> dict[str, str] | None:
    """Data of the one ConfigMap whose (hash-suffixed) name starts with ``prefix``."""
    for obj in objects_of_kind(objects, "ConfigMap"):
        name = obj["metadata"]["name"]
        if name == prefix or name.startswith(f"{prefix}-"):
            data: dict[str, str] = obj.get("data") or {}
            return data
    return None


def flag_values(args: list[str]) -> dict[str, str]:
    """``--name=value`` args as {name: value} (TF Serving takes every flag in this form)."""
    values = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if arg.startswith("--") and sep:
            values[name[2:]] = value
    return values


def cpu_cores(quantity: str | int | float) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)
