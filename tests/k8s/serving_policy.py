"""Policy rules specific to the TF Serving deployment: its command line and config, sizing,
scaling, draining, model versions, monitoring and the KServe variant.

Each rule returns human-readable violations (empty: compliant) and has a bad fixture in
fixtures/bad/<rule>/ that breaks it (test_bad_fixtures.py). Where a rule encodes how TF
Serving behaves, the comment names the TF Serving source file it was checked against.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema

from inception_svm_client.config import FeaturizerConfig
from tests.k8s.kustomize import Manifest
from tests.k8s.objects import (
    Accelerator,
    Check,
    Rendered,
    config_map_data,
    containers,
    cpu_cores,
    flag_values,
    objects_of_kind,
    serving_container,
)
from tests.paths import SERVING_DIR

SERVING_CONFIGMAP_PREFIX = "tf-serving-config"
MODEL_SOURCE_CONFIGMAP = "model-source"
ARGS_FILE = SERVING_DIR / "tensorflow_model_server.args"
CPU_BATCHING_ARG = "--batching_parameters_file=/config/batching_parameters.txt"
GPU_BATCHING_ARG = "--batching_parameters_file=/config/batching_parameters_gpu.txt"
# The documented command line may select the canary model config instead of the default.
ARG_ALTERNATIVES = {
    "--model_config_file=/config/models.config": {
        "--model_config_file=/config/models.canary.config"
    }
}
# Flags whose values depend on the container's resources, so overlays append them after the
# documented args (tensorflow_serving/model_servers/main.cc defines all three).
RESOURCE_FLAGS = frozenset(
    {
        "tensorflow_intra_op_parallelism",
        "tensorflow_inter_op_parallelism",
        "per_process_gpu_memory_fraction",
    }
)
# Time for an endpoint removal to reach DNS and the clients' resolvers.
ENDPOINT_PROPAGATION_S = 5.0
# gRPC core jitters max_connection_age by up to +/-10 %.
MAX_AGE_JITTER = 1.1
TERMINATION_MARGIN_S = 5
# The thin client's default Predict deadline (FeaturizerConfig.deadline_s): a connection's
# grace after its max age must let a call that started just before it finish.
CLIENT_DEADLINE_S = FeaturizerConfig().deadline_s
# Node labels only NVIDIA GPU Feature Discovery sets (nvidia.com/gpu.present, .product, ...).
GFD_LABEL_PREFIX = "nvidia.com/"
WARMUP_FLAG = "warmup-batching-parameters"
KSERVE_SCHEMA = (
    Path(__file__).parent / "schemas" / "kserve-v0.20.0-inferenceservice-v1beta1.schema.json.gz"
)


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


def _server_flags(rendered: Rendered) -> dict[str, str]:
    ref = serving_container(rendered.objects)
    return flag_values(list(ref.container.get("args") or [])) if ref else {}


def check_serving_args(rendered: Rendered) -> list[str]:
    """The documented command line, then only resource-dependent or component flags."""
    ref = serving_container(rendered.objects)
    if ref is None:
        return []
    expected = documented_args(rendered.accelerator)
    actual = list(ref.container.get("args") or [])
    violations = [
        f"{ref.label}: arg {i} is {got!r}, {ARGS_FILE.name} has {want!r}"
        for i, (want, got) in enumerate(zip(expected, actual, strict=False))
        if got != want and got not in ARG_ALTERNATIVES.get(want, set())
    ]
    if len(actual) < len(expected):
        violations.append(f"{ref.label}: lacks {expected[len(actual) :]} from {ARGS_FILE.name}")
    for extra in actual[len(expected) :]:
        name = extra.partition("=")[0].removeprefix("--")
        if extra not in rendered.extra_args and name not in RESOURCE_FLAGS:
            violations.append(f"{ref.label}: {extra!r} is not in {ARGS_FILE.name}")
    if ref.container.get("command") != ["tensorflow_model_server"]:
        violations.append(f"{ref.label}: command must be the bare server binary")
    return violations


def check_serving_configmap(rendered: Rendered) -> list[str]:
    """Every key of the serving ConfigMap is a byte-identical copy of serving/<key>."""
    config_maps = [
        obj
        for obj in objects_of_kind(rendered.objects, "ConfigMap")
        if obj["metadata"]["name"].startswith(SERVING_CONFIGMAP_PREFIX)
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
    flags = _server_flags(rendered)
    required = {"monitoring.config"} | {
        PurePosixPath(flags[flag]).name
        for flag in ("model_config_file", "batching_parameters_file")
        if flag in flags
    }
    violations += [f"ConfigMap lacks {key}" for key in sorted(required - data.keys())]
    return violations


def check_thread_pools(rendered: Rendered) -> list[str]:
    """TF's pools sized to the CPU limit, not to the node's cores (which TF uses otherwise:
    tensorflow_serving/model_servers/server.cc only sets them when the flags are > 0)."""
    ref = serving_container(rendered.objects)
    if ref is None:
        return []
    limit = ((ref.container.get("resources") or {}).get("limits") or {}).get("cpu")
    if limit is None:
        return [f"{ref.label}: no CPU limit to size the thread pools to"]
    cores = math.ceil(cpu_cores(limit))
    flags = _server_flags(rendered)
    violations = []
    intra = flags.get("tensorflow_intra_op_parallelism")
    inter = flags.get("tensorflow_inter_op_parallelism")
    if intra is None or int(intra) != cores:
        violations.append(f"{ref.label}: --tensorflow_intra_op_parallelism={intra} != {cores}")
    if inter is None or not 1 <= int(inter) <= cores:
        violations.append(f"{ref.label}: --tensorflow_inter_op_parallelism={inter} not 1..{cores}")
    return violations


def check_connection_drain(rendered: Rendered) -> list[str]:
    """Clients leave a stopping pod before it exits: TF Serving has no SIGTERM drain, so the
    server's max connection age + grace (gRPC core channel args, passed through
    --grpc_channel_arguments: tensorflow_serving/model_servers/server.cc) must fit in preStop,
    and preStop in terminationGracePeriodSeconds."""
    ref = serving_container(rendered.objects)
    if ref is None:
        return []
    channel = dict(
        item.split("=", 1)
        for item in _server_flags(rendered).get("grpc_channel_arguments", "").split(",")
        if "=" in item
    )
    age_ms = channel.get("grpc.max_connection_age_ms")
    grace_ms = channel.get("grpc.max_connection_age_grace_ms")
    if age_ms is None or grace_ms is None:
        return [f"{ref.label}: grpc.max_connection_age_ms/_grace_ms not set"]
    needed = ENDPOINT_PROPAGATION_S + MAX_AGE_JITTER * int(age_ms) / 1000 + int(grace_ms) / 1000
    pre_stop = ((ref.container.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}
    sleep_s = int(pre_stop.get("seconds", 0))
    violations = []
    if int(grace_ms) / 1000 < CLIENT_DEADLINE_S:
        violations.append(
            f"{ref.label}: grpc.max_connection_age_grace_ms {grace_ms} < the client's "
            f"{CLIENT_DEADLINE_S:.0f} s deadline: slow calls would be cut at max age"
        )
    if sleep_s < needed:
        violations.append(f"{ref.label}: preStop sleep {sleep_s}s < {needed:.0f}s to drain")
    grace_period = int(ref.pod_spec.get("terminationGracePeriodSeconds", 30))
    if grace_period < sleep_s + TERMINATION_MARGIN_S:
        violations.append(
            f"{ref.label}: terminationGracePeriodSeconds {grace_period} < preStop {sleep_s}s "
            f"+ {TERMINATION_MARGIN_S}s"
        )
    return violations


def _hpas_for(rendered: Rendered, kind: str, name: str) -> list[Manifest]:
    return [
        hpa
        for hpa in objects_of_kind(rendered.objects, "HorizontalPodAutoscaler")
        if hpa["spec"]["scaleTargetRef"]["kind"] == kind
        and hpa["spec"]["scaleTargetRef"]["name"] == name
    ]


def check_no_replicas_under_hpa(rendered: Rendered) -> list[str]:
    """An HPA owns the count; `replicas` in the manifest resets it on every apply/sync."""
    return [
        f"{obj['kind']}/{obj['metadata']['name']}: sets replicas but an HPA scales it"
        for obj in rendered.objects
        if "replicas" in (obj.get("spec") or {})
        and _hpas_for(rendered, obj["kind"], obj["metadata"]["name"])
    ]


def check_gpu_pods(rendered: Rendered) -> list[str]:
    """GPU pods: bounded GPU memory, a writable CUDA cache, rollouts that need no spare GPU,
    and an autoscaler on TF Serving's load metrics rather than CPU."""
    ref = serving_container(rendered.objects)
    if ref is None or rendered.accelerator != "gpu":
        return []
    violations = []
    fraction = _server_flags(rendered).get("per_process_gpu_memory_fraction")
    if fraction is None or not 0 < float(fraction) <= 1:
        violations.append(f"{ref.label}: --per_process_gpu_memory_fraction={fraction}")
    env = {e["name"]: e.get("value", "") for e in ref.container.get("env") or []}
    cache = env.get("CUDA_CACHE_PATH", "")
    writable = [
        m["mountPath"] for m in ref.container.get("volumeMounts") or [] if not m.get("readOnly")
    ]
    if not any(cache.startswith(f"{mount.rstrip('/')}/") for mount in writable):
        violations.append(f"{ref.label}: CUDA_CACHE_PATH {cache!r} is not on a writable volume")
    rolling = (ref.workload_object["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    if str(rolling.get("maxSurge", "25%")) not in ("0", "0%"):
        violations.append(f"{ref.workload}: maxSurge must be 0 (a surge pod needs a spare GPU)")
    if str(rolling.get("maxUnavailable", "25%")) in ("0", "0%"):
        violations.append(f"{ref.workload}: maxUnavailable 0 with maxSurge 0 cannot roll")
    for hpa in _hpas_for(rendered, "Deployment", ref.workload_object["metadata"]["name"]):
        for metric in hpa["spec"].get("metrics") or []:
            source = metric.get("resource") or metric.get("containerResource") or {}
            if source.get("name") == "cpu":
                violations.append(f"HorizontalPodAutoscaler/{hpa['metadata']['name']}: on CPU")
    return violations


def check_no_gfd_selector(rendered: Rendered) -> list[str]:
    """Requesting nvidia.com/gpu already picks GPU nodes; labels from GPU Feature Discovery
    exist neither on GKE-managed nodes nor on nodes an autoscaler has yet to create."""
    violations = []
    for ref in containers(rendered.objects):
        if ref.is_init:
            continue
        keys = set((ref.pod_spec.get("nodeSelector") or {}).keys())
        affinity = (ref.pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
        required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
        for term in required.get("nodeSelectorTerms") or []:
            keys |= {e["key"] for e in term.get("matchExpressions") or []}
        violations += [
            f"{ref.workload}: node selector on GFD label {key}"
            for key in sorted(keys)
            if key.startswith(GFD_LABEL_PREFIX)
        ]
    return sorted(set(violations))


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def check_scrape_once(rendered: Rendered) -> list[str]:
    """Each ServiceMonitor endpoint matches exactly one Service exposing its port (two
    Services over the same pods would scrape every pod twice)."""
    violations = []
    services = objects_of_kind(rendered.objects, "Service")
    for monitor in objects_of_kind(rendered.objects, "ServiceMonitor"):
        namespace = monitor["metadata"].get("namespace")
        for endpoint in monitor["spec"].get("endpoints") or []:
            matched = [
                svc["metadata"]["name"]
                for svc in services
                if svc["metadata"].get("namespace") == namespace
                and _selects(monitor["spec"]["selector"], svc["metadata"].get("labels") or {})
                and any(p.get("name") == endpoint.get("port") for p in svc["spec"]["ports"])
            ]
            if len(matched) != 1:
                violations.append(
                    f"ServiceMonitor/{monitor['metadata']['name']} port {endpoint.get('port')} "
                    f"scrapes {len(matched)} Services {matched}, not exactly one"
                )
    return violations


def check_model_versions(rendered: Rendered) -> list[str]:
    """The pods install every version the model config names (specific versions and
    version_labels), so that a label such as "canary" resolves to a loaded version."""
    flags = _server_flags(rendered)
    if "model_config_file" not in flags:
        return []
    from inception_svm_serving.config.options import load_model_config_file  # imports TF protos

    config_data = config_map_data(rendered.objects, SERVING_CONFIGMAP_PREFIX) or {}
    source = config_map_data(rendered.objects, MODEL_SOURCE_CONFIGMAP) or {}
    key = PurePosixPath(flags["model_config_file"]).name
    if key not in config_data:
        return [f"model config {key} is not in the {SERVING_CONFIGMAP_PREFIX} ConfigMap"]
    installed = source.get("MODEL_VERSIONS", "").split()
    if not installed or not all(v.isdigit() for v in installed):
        return [f"MODEL_VERSIONS={source.get('MODEL_VERSIONS')!r}: no version installed"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / key
        path.write_text(config_data[key])
        models = load_model_config_file(path)
    named = {v for m in models for v in m.policy.versions} | {
        v for m in models for _, v in m.version_labels
    }
    missing = sorted(named - {int(v) for v in installed})
    if missing:
        return [f"{key} names versions {missing} that MODEL_VERSIONS={installed} does not install"]
    return []


def check_warmup_matches_batching(rendered: Rendered) -> list[str]:
    """An exporter rendered with the server writes warmup for the server's batching file."""
    served = PurePosixPath(_server_flags(rendered).get("batching_parameters_file", "")).name
    if not served:
        return []
    violations = []
    prefix = f"--{WARMUP_FLAG}="
    for ref in containers(rendered.objects):
        # The flag repeats (one per serving configuration); the warmup is capped at the
        # smallest max_batch_size among them, so the served file must be one of them.
        warmups = [
            a[len(prefix) :] for a in ref.container.get("args") or [] if a.startswith(prefix)
        ]
        if warmups and served not in {PurePosixPath(w).name for w in warmups}:
            violations.append(f"{ref.label}: warms up {warmups}, the server batches by {served}")
    return violations


@functools.cache
def kserve_schema() -> dict[str, Any]:
    """KServe v0.20.0's published InferenceService v1beta1 schema, made strict: unknown
    fields are refused wherever the schema lists the known ones (the API server would
    silently prune them)."""
    schema: dict[str, Any] = json.loads(gzip.decompress(KSERVE_SCHEMA.read_bytes()))

    def tighten(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                tighten(value)
        elif isinstance(node, list):
            for value in node:
                tighten(value)

    tighten(schema)
    return schema


def check_kserve_schema(rendered: Rendered) -> list[str]:
    violations = []
    for isvc in objects_of_kind(rendered.objects, "InferenceService"):
        validator = jsonschema.Draft7Validator(kserve_schema())
        for error in validator.iter_errors(isvc):
            path = ".".join(str(p) for p in error.absolute_path)
            name = isvc["metadata"]["name"]
            violations.append(f"InferenceService/{name}: {path}: {error.message}")
    return violations


CHECKS: dict[str, Check] = {
    "serving_args": check_serving_args,
    "serving_configmap": check_serving_configmap,
    "thread_pools": check_thread_pools,
    "connection_drain": check_connection_drain,
    "no_replicas_under_hpa": check_no_replicas_under_hpa,
    "gpu_pods": check_gpu_pods,
    "no_gfd_selector": check_no_gfd_selector,
    "scrape_once": check_scrape_once,
    "model_versions": check_model_versions,
    "warmup_matches_batching": check_warmup_matches_batching,
    "kserve_schema": check_kserve_schema,
}
