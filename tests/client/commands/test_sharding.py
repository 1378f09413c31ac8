"""How a shard is chosen (flag, Indexed Job environment) and refused when ambiguous."""

from __future__ import annotations

from pathlib import Path

import pytest

from inception_svm_client.commands.sharding import Shard, resolve_shard, shard_output


def test_every_path_is_in_exactly_one_shard_and_the_split_is_stable() -> None:
    paths = [f"/data/img_{i:05d}.jpg" for i in range(3000)]
    shards = [Shard(i, 7) for i in range(7)]
    owners = [[s.index for s in shards if s.holds(p)] for p in paths]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(o == [i] for o in owners) for i in range(7)]
    assert min(sizes) > 3000 / 7 * 0.8, sizes  # spread, not all in one shard
    # Fixed across processes and machines (sha256 of the encoded path, not hash()).
    assert [Shard(i, 7).holds("/data/img_00042.jpg") for i in range(7)].index(True) == 4


def test_the_flag_wins_over_the_job_environment() -> None:
    env = {"JOB_COMPLETION_INDEX": "3", "INCEPTION_SVM_SHARD_COUNT": "8"}
    assert resolve_shard("1/4", None, env) == Shard(1, 4)
    assert resolve_shard(None, None, env) == Shard(3, 8)
    assert resolve_shard(None, 5, {"JOB_COMPLETION_INDEX": "3"}) == Shard(3, 5)
    assert resolve_shard(None, None, {}) is None


@pytest.mark.parametrize(
    ("flag", "count", "env", "message"),
    [
        ("3", None, {}, "expected INDEX/COUNT"),
        ("4/4", None, {}, "0 <= INDEX < COUNT"),
        ("a/4", None, {}, "must be a non-negative integer"),
        (None, None, {"JOB_COMPLETION_INDEX": "2"}, "give the Job's completions"),
        (None, 4, {}, "--shard-count needs JOB_COMPLETION_INDEX"),
        # The count from the environment alone: every pod would classify everything.
        (None, None, {"INCEPTION_SVM_SHARD_COUNT": "4"}, "SHARD_COUNT needs JOB_COMPLETION"),
        # int() takes fullwidth digits; a Job never sets them.
        ("\uff11/4", None, {}, "must be a non-negative integer"),
        (
            None,
            None,
            {"JOB_COMPLETION_INDEX": "\uff11", "INCEPTION_SVM_SHARD_COUNT": "4"},
            "integer",
        ),
        (
            None,
            None,
            {"JOB_COMPLETION_INDEX": "1", "INCEPTION_SVM_SHARD_COUNT": "\uff14"},
            "integer",
        ),
    ],
)
def test_ambiguous_shards_are_refused(
    flag: str | None, count: int | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_shard(flag, count, env)


def test_each_shard_writes_its_own_file() -> None:
    assert shard_output(Path("out/r-{shard}.jsonl"), Shard(2, 3)) == Path("out/r-2.jsonl")
    assert shard_output(Path("r.jsonl"), Shard(0, 1)) == Path("r.jsonl")
    assert shard_output(None, Shard(0, 3)) is None
    with pytest.raises(ValueError, match="must contain"):
        shard_output(Path("r.jsonl"), Shard(0, 3))
    with pytest.raises(ValueError, match="needs --shard"):
        shard_output(Path("r-{shard}.jsonl"), None)
