"""Each policy rule fails on a fixture that breaks that rule, and only that rule.

Every fixture in fixtures/bad/<check>/ is a kustomize overlay over a shipped overlay or
example that breaks exactly one thing, so a rule that could never fail (or that fails for
the wrong reason) shows up here. Fixtures render like everything else: default options.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.k8s.kustomize import render
from tests.k8s.objects import Rendered, accelerator_of
from tests.k8s.policy import CHECKS

BAD_FIXTURES = Path(__file__).parent / "fixtures" / "bad"
# Rules that are part of another: Pod Security `restricted` (rule "admission") includes these
# per-container rules, so their fixtures, in our restricted namespace, break it too.
IMPLIES = {
    "capabilities_dropped": {"admission"},
    "no_privilege_escalation": {"admission"},
    "run_as_non_root": {"admission"},
    "seccomp": {"admission"},
}


def test_every_check_has_a_bad_fixture() -> None:
    assert sorted(p.name for p in BAD_FIXTURES.iterdir() if p.is_dir()) == sorted(CHECKS)


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_check_fails_on_its_bad_fixture_only(check: str) -> None:
    objects = render(BAD_FIXTURES / check)
    rendered = Rendered(check, objects, accelerator=accelerator_of(objects))
    assert CHECKS[check](rendered), f"check {check!r} did not catch its bad fixture"
    others = {
        name: other(rendered)
        for name, other in CHECKS.items()
        if name != check and name not in IMPLIES.get(check, set())
    }
    assert {name: v for name, v in others.items() if v} == {}
    assert all(CHECKS[name](rendered) for name in IMPLIES.get(check, set()))
