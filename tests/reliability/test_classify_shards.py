"""``classify --shard`` as the pods of an Indexed Job run it: real CLI processes against the
session stand-in, outputs audited line by line.

The shards of one input list must together give every input exactly one record (no
input in two shards, none in no shard), a shard killed mid-run must finish on ``--resume``
without a duplicate, and ``JOB_COMPLETION_INDEX`` (set by the Job controller) must pick
the shard and name its output when ``--shard`` is not given.
"""

from __future__ import annotations

import signal
from pathlib import Path

from inception_svm_client.commands.sharding import Shard
from tests.harness import ServerHandle
from tests.reliability.classify_process import (
    ClassifyProcess,
    audit_records,
    read_records,
    report,
)
from tests.reliability.stream import car_stream

INPUTS = 48
SMALL_BATCHES = ("--batch-size", "4")


def _inputs(tmp_path: Path) -> tuple[Path, list[str]]:
    directory = tmp_path / "inputs"
    return directory, car_stream(directory, INPUTS)


def _shard_run(
    tmp_path: Path,
    stand_in: ServerHandle,
    svm: Path,
    output: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> ClassifyProcess:
    source = tmp_path / "inputs"
    args = [str(source), "--server", stand_in.grpc_target, "--svm", str(svm)]
    template = tmp_path / "results-{shard}.jsonl"
    return ClassifyProcess(
        output, *args, "--output", str(template), *SMALL_BATCHES, *extra, env=env
    )


def test_three_shards_cover_every_input_exactly_once(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    _, keys = _inputs(tmp_path)
    runs = [
        _shard_run(
            tmp_path, stand_in, trained_svm, tmp_path / f"results-{i}.jsonl", f"--shard={i}/3"
        )
        for i in range(3)
    ]
    codes = [run.wait() for run in runs]
    assert codes == [0, 0, 0], [run.stderr() for run in runs]
    shards = [read_records(run.output) for run in runs]
    outcome = audit_records(keys, [record for shard in shards for record in shard])
    report("3 shards of one input list", outcome, max(codes), max(r.elapsed_s for r in runs))
    assert outcome.exactly_once, outcome
    assert outcome.statuses == {"OK": INPUTS}
    assert all(shards), "a shard got no inputs: the split does not spread them"
    for index, (run, records) in enumerate(zip(runs, shards, strict=True)):
        # Each shard keeps the listing's (sorted) order and says what it did.
        assert audit_records([k for k in keys if k in {r["path"] for r in records}], records)
        assert f"shard {index}/3: {len(records)} inputs here" in run.stderr()


def test_indexed_job_shard_killed_mid_run_resumes_without_duplicates(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    """As the Job's pod runs it: no --shard, the index from JOB_COMPLETION_INDEX, the count
    from the environment; the retried pod reruns the same command."""
    _, keys = _inputs(tmp_path)
    env = {"JOB_COMPLETION_INDEX": "1", "INCEPTION_SVM_SHARD_COUNT": "2"}
    output = tmp_path / "results-1.jsonl"  # {shard} became the Job's completion index
    first = _shard_run(tmp_path, stand_in, trained_svm, output, "--resume", env=env)
    first.wait_for_lines(4)
    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    mine = [key for key in keys if Shard(1, 2).holds(key)]
    assert 4 <= first.lines() < len(mine), "not killed mid-run"
    with output.open("ab") as handle:  # killed in the middle of a write
        handle.write(b'{"schema": 1, "path": "')
    retried = _shard_run(tmp_path, stand_in, trained_svm, output, "--resume", env=env)
    code = retried.wait()
    outcome = audit_records(mine, read_records(output))
    report("shard 1/2 killed, retried with --resume", outcome, code, retried.elapsed_s)
    assert code == 0, retried.stderr()
    assert outcome.exactly_once and outcome.in_input_order, outcome
    assert 0 < len(mine) < INPUTS
    assert "already recorded" in retried.stderr()
    assert not (tmp_path / "results-0.jsonl").exists()
