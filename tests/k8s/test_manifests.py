"""The shipped overlays and examples render as `kubectl apply -k` renders them, validate,
and follow every policy rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.k8s.kustomize import K8S_DIR, OVERLAYS, example_dirs, render
from tests.k8s.objects import (
    SERVING_CONTAINER,
    Accelerator,
    Rendered,
    accelerator_of,
    config_map_data,
    serving_container,
)
from tests.k8s.policy import CHECKS
from tests.paths import REPO_ROOT

ADAPTER_VALUES = K8S_DIR / "overlays" / "gpu" / "prometheus-adapter-values.yaml"
# TF Serving's metric names, as its Prometheus endpoint writes them ("/" -> ":"), checked in
# tensorflow/serving: tensorflow_serving/batching/batching_session.cc (queuing_latency) and
# tensorflow_serving/servables/tensorflow/util.cc (request_count, request_latency).
TF_SERVING_SERIES = {
    ":tensorflow:serving:batching_session:queuing_latency_bucket",
    ":tensorflow:serving:request_count",
    ":tensorflow:serving:request_latency_bucket",
}


def rendered_overlay(overlay: Accelerator) -> Rendered:
    return Rendered(overlay, render(K8S_DIR / "overlays" / overlay), accelerator=overlay)


# The one flag an optional component may add to the documented command line.
EXAMPLE_EXTRA_ARGS = {"grpc-tls": ("--ssl_config_file=/tls/ssl_config.pbtxt",)}


def rendered_example(path: Path) -> Rendered:
    objects = render(path)
    return Rendered(
        path.name,
        objects,
        accelerator=accelerator_of(objects),
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
    # Default model delivery needs no ReadWriteMany volume (nor any PVC).
    assert "PersistentVolumeClaim" not in {obj["kind"] for obj in objects}


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
    used = set()
    for example in example_dirs():
        kustomization = yaml.safe_load((example / "kustomization.yaml").read_text())
        used |= {Path(c).name for c in kustomization.get("components") or []}
    assert components and components <= used


def test_nothing_needs_a_load_restrictor_flag() -> None:
    """No doc, Makefile or test tells anyone to relax kustomize's load restrictor."""
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for pattern in ("*.md", "k8s/**/*", "tests/**/*.py", "Makefile", ".ci/*")
        for path in REPO_ROOT.glob(pattern)
        if path.is_file()
        and path.name != Path(__file__).name
        and "load-restrictor" in path.read_text(errors="replace")
    ]
    assert offenders == []


def test_gpu_overlay_differs_only_where_documented() -> None:
    cpu = serving_container(rendered_overlay("cpu").objects)
    gpu = serving_container(rendered_overlay("gpu").objects)
    assert cpu is not None and gpu is not None
    assert cpu.container["image"] == "tensorflow/serving:2.21.0"
    assert gpu.container["image"] == "tensorflow/serving:2.21.0-gpu"
    assert gpu.container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in cpu.container["resources"]["limits"]
    assert "nodeSelector" not in gpu.pod_spec
    cpu_args = cpu.container["args"]
    common = zip(cpu_args, gpu.container["args"][: len(cpu_args)], strict=True)
    changed = [(a, b) for a, b in common if a != b]
    assert changed == [
        (
            "--batching_parameters_file=/config/batching_parameters.txt",
            "--batching_parameters_file=/config/batching_parameters_gpu.txt",
        ),
        # Thread pools follow each overlay's CPU limit (4 on CPU, 10 for the GPU's decoding).
        ("--tensorflow_intra_op_parallelism=4", "--tensorflow_intra_op_parallelism=10"),
        ("--tensorflow_inter_op_parallelism=4", "--tensorflow_inter_op_parallelism=10"),
    ]
    extra = gpu.container["args"][len(cpu.container["args"]) :]
    assert extra == ["--per_process_gpu_memory_fraction=0.4"]


def test_gpu_autoscaler_metrics_come_from_the_adapter_rules() -> None:
    """The HPA asks for exactly the metrics the adapter rules define, and the rules read
    series that TF Serving really exports."""
    hpa = next(o for o in rendered_overlay("gpu").objects if o["kind"] == "HorizontalPodAutoscaler")
    wanted = {m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"]}
    rules = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"]
    assert {rule["name"]["as"] for rule in rules} == wanted
    for rule in rules:
        series = re.fullmatch(r'\{__name__="([^"]+)",.*\}', rule["seriesQuery"])
        assert series is not None and series.group(1) in TF_SERVING_SERIES


def test_argocd_application_syncs_a_rendered_example() -> None:
    application = next(
        o for o in render(K8S_DIR / "examples" / "argocd") if o["kind"] == "Application"
    )
    path = REPO_ROOT / application["spec"]["source"]["path"]
    objects = render(path)
    waves = {
        (o["kind"], o["metadata"]["name"]): int(
            (o["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0")
        )
        for o in objects
    }
    # The model is published (export Job) before the Deployment that needs it, after the
    # ConfigMap it reads.
    assert waves[("ConfigMap", "model-store")] < waves[("Job", "inception-export-v1")]
    assert waves[("Job", "inception-export-v1")] < waves[("Deployment", "inception-serving")]


def test_canary_example_installs_both_labelled_versions() -> None:
    objects = render(K8S_DIR / "examples" / "canary")
    assert (config_map_data(objects, "model-source") or {})["MODEL_VERSIONS"].split() == ["1", "2"]


DOC_RENDER_COMMAND = re.compile(r"kubectl (?:apply -k|kustomize) (k8s/[\w./-]+)")


def test_every_documented_render_or_apply_command_renders() -> None:
    """Each `kubectl apply -k DIR` / `kubectl kustomize DIR` in the READMEs, as written."""
    documented = {
        match.group(1).rstrip(".")
        for doc in (REPO_ROOT / "README.md", K8S_DIR / "README.md")
        for match in DOC_RENDER_COMMAND.finditer(doc.read_text())
    }
    assert {"k8s/overlays/gpu", "k8s/examples/exporter-job"} <= documented
    for directory in sorted(documented):
        assert render(REPO_ROOT / directory), f"{directory} rendered nothing"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_stand_in_accepts_and_applies_every_overlay_flag(overlay: Accelerator) -> None:
    """The overlays' command lines (thread pools, GPU memory fraction, channel arguments)
    run unchanged on the stand-in too, and the thread pools reach the model's session."""
    from inception_svm_serving.config.flags import options_from_args
    from inception_svm_serving.core.runtime import session_config
    from tests.serving.config.test_flags import parse

    ref = serving_container(rendered_overlay(overlay).objects)
    assert ref is not None
    serving_dir = REPO_ROOT / "serving"
    argv = [str(a).replace("/config/", f"{serving_dir}/") for a in ref.container["args"]]
    options = options_from_args(parse(argv))
    limit = int(str(ref.container["resources"]["limits"]["cpu"]))
    assert options.session.intra_op_parallelism == limit
    assert options.session.inter_op_parallelism == limit
    config = session_config(options.session)
    assert config.intra_op_parallelism_threads == limit
    assert config.inter_op_parallelism_threads == limit
    expected_fraction = 0.4 if overlay == "gpu" else 0.0
    assert config.gpu_options.per_process_gpu_memory_fraction == pytest.approx(expected_fraction)
