"""Pod Security Admission, level `restricted`, as the API server enforces it per namespace.

A port of kubernetes/kubernetes staging/src/k8s.io/pod-security-admission/policy/ (the
check_*.go files named on each function; restricted = baseline checks + the restricted
ones). Every check visits init, regular and ephemeral containers (visitContainers), and
runs on every pod a render creates (tests/k8s/pods.py: including the containers KServe and
Knative inject) whose namespace enforces `restricted`, in the render or in the default
install (k8s/base/namespace.yaml).
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.k8s.kustomize import K8S_DIR, Manifest
from tests.k8s.objects import Rendered
from tests.k8s.pods import Pod, all_containers, pods

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# check_restrictedVolumes.go: the only inline volume sources restricted allows.
ALLOWED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
# check_sysctls.go (safe sysctls up to 1.30).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
# check_seLinuxOptions.go
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SECCOMP_OK = frozenset({"RuntimeDefault", "Localhost"})


def _sc(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("securityContext") or {}


def _namespace_levels(objects: tuple[Manifest, ...]) -> dict[str, str]:
    """enforce level per namespace: the default install's, overridden by the render's."""
    default = yaml.safe_load((K8S_DIR / "base" / "namespace.yaml").read_text())
    levels = {default["metadata"]["name"]: default["metadata"]["labels"].get(ENFORCE_LABEL, "")}
    for obj in objects:
        if obj.get("kind") == "Namespace":
            labels = obj["metadata"].get("labels") or {}
            levels[obj["metadata"]["name"]] = labels.get(ENFORCE_LABEL, "privileged")
    return levels


def restricted_violations(pod: Pod) -> list[str]:
    """Every restricted-profile violation of one pod, phrased like the admission error."""
    spec, pod_sc = pod.spec, _sc(pod.spec)
    found = []
    # check_hostNamespaces.go
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"host namespaces ({field}=true)")
    # check_restrictedVolumes.go (covers check_hostPathVolumes.go)
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            found.append(f"restricted volume types (volume {volume['name']!r}: {sorted(kinds)})")
    # check_sysctls.go
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"forbidden sysctls ({sysctl.get('name')})")
    # check_runAsNonRoot.go: pod-level true, or every container true; no explicit false.
    pod_non_root = pod_sc.get("runAsNonRoot")
    for container in all_containers(spec):
        name, sc = container.get("name"), _sc(container)
        # check_privileged.go
        if sc.get("privileged"):
            found.append(f"privileged (container {name!r})")
        # check_hostPorts.go
        if any(p.get("hostPort") for p in container.get("ports") or []):
            found.append(f"hostPort (container {name!r})")
        # check_procMount.go
        if sc.get("procMount") not in (None, "Default"):
            found.append(f"procMount (container {name!r})")
        # check_allowPrivilegeEscalation.go: container level only.
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"allowPrivilegeEscalation != false (container {name!r})")
        # check_capabilities_restricted.go
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"unrestricted capabilities (container {name!r} must drop ALL)")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"unrestricted capabilities (container {name!r} adds {caps['add']})")
        # check_runAsNonRoot.go / check_runAsUser.go
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and pod_non_root is not True):
            found.append(f"runAsNonRoot != true (container {name!r})")
        if sc.get("runAsUser") == 0:
            found.append(f"runAsUser=0 (container {name!r})")
        # check_seccompProfile_restricted.go
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in SECCOMP_OK:
            found.append(f"seccompProfile (container {name!r} sets {seccomp})")
        elif seccomp is None and pod_seccomp not in SECCOMP_OK:
            found.append(
                f"seccompProfile (container {name!r} must set RuntimeDefault or Localhost)"
            )
        # check_seLinuxOptions.go
        selinux = sc.get("seLinuxOptions") or {}
        if (
            selinux.get("type", "") not in SELINUX_TYPES
            or selinux.get("user")
            or selinux.get("role")
        ):
            found.append(f"seLinuxOptions (container {name!r})")
        # check_appArmorProfile.go
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            found.append(f"appArmorProfile (container {name!r})")
        # check_windowsHostProcess.go
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"hostProcess (container {name!r})")
    if pod_sc.get("runAsNonRoot") is False:
        found.append("runAsNonRoot != true (pod)")
    if pod_sc.get("runAsUser") == 0:
        found.append("runAsUser=0 (pod)")
    if (pod_sc.get("seccompProfile") or {}).get("type") not in (None, *SECCOMP_OK):
        found.append("seccompProfile (pod)")
    return found


def check_admission(rendered: Rendered) -> list[str]:
    """Every pod passes its namespace's Pod Security level (we enforce `restricted`)."""
    levels = _namespace_levels(rendered.objects)
    violations = []
    for pod in pods(rendered.objects):
        if levels.get(pod.namespace) != "restricted":
            continue
        for problem in restricted_violations(pod):
            injected = f" (injected: {', '.join(pod.injected)})" if pod.injected else ""
            violations.append(
                f"{pod.owner}{injected}: violates PodSecurity restricted in namespace "
                f"{pod.namespace}: {problem}"
            )
    return violations
