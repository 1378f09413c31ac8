"""The restricted-profile port (admission_policy.py) against the test tables of the checks it
ports: kubernetes/kubernetes staging/src/k8s.io/pod-security-admission/policy/
check_runAsNonRoot_test.go (TestRunAsNonRoot) and check_seccompProfile_restricted_test.go
(TestSeccompProfileRestricted), case for case (same pods, same containers named), plus
cases for the checks whose upstream tables are not copied here, taken from each check's
rule text. The user-namespace relaxation (hostUsers: false, k8s >= 1.34) is not ported: our
namespaces pin enforce-version v1.30."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.k8s.admission_policy import restricted_violations
from tests.k8s.pods import Pod

MESSAGE = re.compile(r"^(?P<reason>.+?) \((?:container '(?P<container>[^']+)'|(?P<pod>pod))")


def named(spec: dict[str, Any], reason: str) -> set[str]:
    """Who violates ``reason``: container names, or "pod"."""
    found = set()
    for message in restricted_violations(Pod("Pod/t", "inception-svm", spec)):
        match = MESSAGE.match(message)
        assert match is not None, message
        if match.group("reason") == reason:
            found.add(match.group("container") or "pod")
    return found


def c(name: str, **security: Any) -> dict[str, Any]:
    return {"name": name, "securityContext": security} if security else {"name": name}


SECCOMP = "seccompProfile"
NON_ROOT = "runAsNonRoot != true"
UNCONFINED = {"type": "Unconfined"}
DEFAULT = {"type": "RuntimeDefault"}


@pytest.mark.parametrize(
    ("case", "spec", "reason", "expected"),
    [
        # TestRunAsNonRoot
        ("no explicit runAsNonRoot", {"containers": [c("a")]}, NON_ROOT, {"a"}),
        (
            "pod runAsNonRoot=false",
            {"securityContext": {"runAsNonRoot": False}, "containers": [c("a")]},
            NON_ROOT,
            {"pod", "a"},
        ),
        (
            "containers runAsNonRoot=false",
            {
                "securityContext": {"runAsNonRoot": True},
                "containers": [
                    c("a"),
                    {"name": "b", "securityContext": {}},
                    c("c", runAsNonRoot=False),
                    c("d", runAsNonRoot=False),
                    c("e", runAsNonRoot=True),
                    c("f", runAsNonRoot=True),
                ],
            },
            NON_ROOT,
            {"c", "d"},
        ),
        (
            "runAsNonRoot pod nil, container fallthrough",
            {
                "containers": [
                    c("a"),
                    {"name": "b", "securityContext": {}},
                    c("d", runAsNonRoot=True),
                    c("e", runAsNonRoot=True),
                ]
            },
            NON_ROOT,
            {"a", "b"},
        ),
        # TestSeccompProfileRestricted
        ("no explicit seccomp", {"containers": [c("a")]}, SECCOMP, {"a"}),
        (
            "pod seccomp invalid",
            {"securityContext": {"seccompProfile": UNCONFINED}, "containers": [c("a")]},
            SECCOMP,
            {"pod", "a"},
        ),
        (
            "containers seccomp invalid",
            {
                "securityContext": {"seccompProfile": DEFAULT},
                "containers": [
                    c("a"),
                    {"name": "b", "securityContext": {}},
                    c("c", seccompProfile=UNCONFINED),
                    c("d", seccompProfile=UNCONFINED),
                    c("e", seccompProfile=DEFAULT),
                    c("f", seccompProfile=DEFAULT),
                ],
            },
            SECCOMP,
            {"c", "d"},
        ),
        (
            "seccomp pod nil, container fallthrough",
            {
                "containers": [
                    c("a"),
                    {"name": "b", "securityContext": {}},
                    c("d", seccompProfile=DEFAULT),
                    c("e", seccompProfile=DEFAULT),
                ]
            },
            SECCOMP,
            {"a", "b"},
        ),
        # check_allowPrivilegeEscalation.go: container level only, unset is a violation.
        (
            "allowPrivilegeEscalation",
            {
                "securityContext": {"runAsNonRoot": True},
                "containers": [
                    c("a"),
                    c("b", allowPrivilegeEscalation=True),
                    c("c", allowPrivilegeEscalation=False),
                ],
                "initContainers": [c("i")],
            },
            "allowPrivilegeEscalation != false",
            {"a", "b", "i"},
        ),
        # check_capabilities_restricted.go: drop ALL, add at most NET_BIND_SERVICE.
        (
            "capabilities",
            {
                "containers": [
                    c("a"),
                    c("b", capabilities={"drop": ["NET_RAW"]}),
                    c("c", capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
                    c("d", capabilities={"drop": ["ALL"], "add": ["SYS_TIME"]}),
                ]
            },
            "unrestricted capabilities",
            {"a", "b", "d"},
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_matches_the_upstream_check(
    case: str, spec: dict[str, Any], reason: str, expected: set[str]
) -> None:
    assert named(spec, reason) == expected, case


def test_restricted_volumes_and_host_namespaces() -> None:
    spec = {
        "hostNetwork": True,
        "containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}]}],
        "volumes": [{"name": "ok", "emptyDir": {}}, {"name": "host", "hostPath": {"path": "/"}}],
    }
    messages = restricted_violations(Pod("Pod/t", "inception-svm", spec))
    assert any("volume 'host'" in m and "hostPath" in m for m in messages)
    assert not any("volume 'ok'" in m for m in messages)
    assert "host namespaces (hostNetwork=true)" in messages
    assert "hostPort (container 'a')" in messages


def test_a_compliant_pod_passes() -> None:
    restricted = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": DEFAULT,
    }
    spec = {
        "containers": [{"name": "a", "securityContext": restricted}],
        "initContainers": [{"name": "i", "securityContext": restricted}],
        "volumes": [{"name": "v", "configMap": {"name": "x"}}],
    }
    assert restricted_violations(Pod("Pod/t", "inception-svm", spec)) == []
