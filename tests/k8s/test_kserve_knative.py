"""KServe in Knative mode: the pod fields Knative refuses unless its config-features enable
them (knative/serving pkg/apis/serving/k8s_validation.go CheckDisallowedFields with
PodSpecMask, fieldmask.go; all default to "disabled" in config/core/configmaps/features.yaml)
are documented with the flag that enables them, and the example's pod-level securityContext
stays empty (container-level fields need no flag: SecurityContextMask)."""

from __future__ import annotations

from tests.k8s.kustomize import K8S_DIR, example_dirs, render
from tests.k8s.pods import knative_mode

# PodSpec field -> the config-features key that allows it.
FEATURE_FLAGS = {
    "tolerations": "kubernetes.podspec-tolerations",
    "nodeSelector": "kubernetes.podspec-nodeselector",
    "affinity": "kubernetes.podspec-affinity",
    "securityContext": "kubernetes.podspec-securitycontext",
}


def test_knative_feature_flags_are_documented() -> None:
    readme = (K8S_DIR / "README.md").read_text()
    checked = 0
    for example in example_dirs():
        for isvc in render(example):
            if isvc.get("kind") != "InferenceService" or not knative_mode(isvc):
                continue
            predictor = isvc["spec"]["predictor"]
            assert "securityContext" not in predictor, "pod securityContext needs a flag"
            for field, flag in FEATURE_FLAGS.items():
                if field in predictor:
                    checked += 1
                    assert f'"{flag}":"enabled"' in readme, f"{field} needs {flag}: enabled"
    assert checked, "no Knative-mode InferenceService uses a flagged field: test is vacuous"
