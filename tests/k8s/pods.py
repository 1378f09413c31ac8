"""Every pod a render creates, as the API server will see it at admission.

Workloads give their pod template as written. A KServe InferenceService gives no pod
template: KServe builds one from its ServingRuntime and its webhook injects containers, so
the pod is reconstructed here from what KServe v0.20.0 does (the runtime container, the
storage-initializer, Knative's queue-proxy), citing the code path for each part.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from tests.k8s.kustomize import Manifest
from tests.k8s.objects import pod_spec_of

DEFAULT_NAMESPACE = "inception-svm"

# kserve@v0.20.0 config/runtimes/kserve-tensorflow-serving.yaml: container kserve-container
# with this securityContext (no seccompProfile).
KSERVE_RUNTIME_CONTAINERS: dict[str, dict[str, Any]] = {
    "kserve-tensorflow-serving": {
        "name": "kserve-container",
        "image": "tensorflow/serving:2.6.2",
        "securityContext": {
            "runAsUser": 1000,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
}
# pkg/utils/storage.go CreateInitContainerWithConfig: name, image, args, resources; no
# securityContext. A ClusterStorageContainer's spec.container is strategic-merged over it
# (pkg/webhook/admission/pod/storage_initializer_injector.go, MergeContainerWithPatch).
STORAGE_INITIALIZER: dict[str, Any] = {
    "name": "storage-initializer",
    "image": "kserve/storage-initializer:v0.20.0",
    "resources": {
        "requests": {"cpu": "100m", "memory": "100Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    },
}
# knative/serving pkg/reconciler/revision/resources/queue.go: restricted-compliant, 25m
# (config-deployment queue-sidecar-cpu-request).
QUEUE_PROXY: dict[str, Any] = {
    "name": "queue-proxy",
    "resources": {"requests": {"cpu": "25m"}},
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}
# Predictor fields that are the pod's, not the model container's (v1beta1 PodSpec inline).
_MODEL_ONLY = {"modelFormat", "runtime", "runtimeVersion", "storageUri", "protocolVersion"}
# Predictor fields KServe reads itself (ComponentExtensionSpec), not part of the pod.
_PREDICTOR_ONLY = {
    "minReplicas",
    "maxReplicas",
    "scaleTarget",
    "scaleMetric",
    "scaleMetricType",
    "autoScaling",
    "containerConcurrency",
    "timeout",
    "canaryTrafficPercent",
    "logger",
    "batcher",
    "labels",
    "annotations",
    "deploymentStrategy",
    "storageContainerName",
    "workerSpec",
}


@dataclasses.dataclass(frozen=True)
class Pod:
    """A pod as admitted: its owner, namespace and spec (injected containers included)."""

    owner: str
    namespace: str
    spec: dict[str, Any]
    # Containers a platform injects (name -> who), for the messages.
    injected: tuple[str, ...] = ()


def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge for the fields that matter here: maps merge, lists replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return copy.deepcopy(patch)


def knative_mode(isvc: Manifest) -> bool:
    """Serverless (legacy) and Knative are one mode; it is the configmap default
    (config/configmap/inferenceservice.yaml deploy.defaultDeploymentMode)."""
    mode = (isvc["metadata"].get("annotations") or {}).get(
        "serving.kserve.io/deploymentMode", "Serverless"
    )
    return mode in ("Serverless", "Knative")


def _storage_initializer(predictor: dict[str, Any], objects: tuple[Manifest, ...]) -> Any:
    name = predictor.get("storageContainerName")
    storage_containers = {
        o["metadata"]["name"]: o for o in objects if o.get("kind") == "ClusterStorageContainer"
    }
    # Without storageContainerName KServe takes the first matching CSC; the shipped one is
    # "default" (config/storagecontainers/default.yaml), which sets no securityContext.
    chosen = storage_containers.get(name) if name else storage_containers.get("default")
    if chosen is None:
        return copy.deepcopy(STORAGE_INITIALIZER)
    return _merge(STORAGE_INITIALIZER, chosen["spec"]["container"])


def _kserve_pod(isvc: Manifest, objects: tuple[Manifest, ...]) -> Pod:
    predictor = dict(isvc["spec"]["predictor"])
    model = dict(predictor.pop("model", None) or {})
    runtime = KSERVE_RUNTIME_CONTAINERS.get(str(model.get("runtime")), {"name": "kserve-container"})
    container = _merge(runtime, {k: v for k, v in model.items() if k not in _MODEL_ONLY})
    spec = {k: v for k, v in predictor.items() if k not in _PREDICTOR_ONLY}
    spec["containers"] = [container]
    injected = []
    if model.get("storageUri"):
        spec["initContainers"] = [_storage_initializer(predictor, objects)]
        injected.append("storage-initializer")
    if knative_mode(isvc):
        spec["containers"].append(copy.deepcopy(QUEUE_PROXY))
        injected.append("queue-proxy")
    namespace = isvc["metadata"].get("namespace", DEFAULT_NAMESPACE)
    return Pod(f"InferenceService/{isvc['metadata']['name']}", namespace, spec, tuple(injected))


def pods(objects: tuple[Manifest, ...]) -> list[Pod]:
    found = []
    for obj in objects:
        spec = pod_spec_of(obj)
        namespace = obj["metadata"].get("namespace", DEFAULT_NAMESPACE)
        if spec is not None:
            found.append(Pod(f"{obj['kind']}/{obj['metadata']['name']}", namespace, spec))
        elif obj.get("kind") == "InferenceService":
            found.append(_kserve_pod(obj, objects))
    return found


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """visitContainers in pod-security-admission: init, regular and ephemeral."""
    return [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(key) or []
    ]
