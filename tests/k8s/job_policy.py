"""Rules for Jobs that run ``inception-svm classify`` in shards (an Indexed Job)."""

from __future__ import annotations

from inception_svm_client.commands.sharding import COUNT_ENV, PLACEHOLDER
from tests.k8s.objects import Check, Rendered, containers


def _flag(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def check_classify_shards(rendered: Rendered) -> list[str]:
    """Each pod of an Indexed Job classifies shard JOB_COMPLETION_INDEX of COUNT: COUNT
    must be the Job's completions (more: images never classified; fewer: pods that fail
    on an out-of-range index), every shard writes its own file, and a retried pod
    resumes instead of starting over."""
    violations = []
    for ref in containers(rendered.objects):
        args = [str(a) for a in ref.container.get("args") or []]
        spec = ref.workload_object["spec"]
        if ref.kind != "Job" or spec.get("completionMode") != "Indexed" or "classify" not in args:
            continue
        env = {e["name"]: e.get("value") for e in ref.container.get("env") or []}
        count = _flag(args, "--shard-count") or env.get(COUNT_ENV)
        if _flag(args, "--shard") is not None:
            violations.append(f"{ref.label}: --shard pins one shard for every pod")
        if count is None or int(count) != spec.get("completions"):
            violations.append(
                f"{ref.label}: shard count {count} is not completions {spec.get('completions')}"
            )
        if PLACEHOLDER not in (_flag(args, "--output") or ""):
            violations.append(f"{ref.label}: --output has no {PLACEHOLDER}: shards share a file")
        if "--resume" not in args:
            violations.append(f"{ref.label}: no --resume: a retried shard starts over")
    return violations


CHECKS: dict[str, Check] = {
    "classify_shards": check_classify_shards,
}
