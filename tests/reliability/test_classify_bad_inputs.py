"""Every awkward input through ``inception-svm classify``, mixed with good photos.

One run gets all of them, interleaved with good photos, as a user's messy folder would:
each refused file must get its own error record saying why, every valid image (unusual
formats included) must be classified, the order must be the input order, and the exit
code must say "some inputs failed" (1) rather than "usage/connection error" (2).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness import ServerHandle
from tests.paths import car_photos
from tests.reliability.bad_inputs import BAD_INPUTS, Verdict
from tests.reliability.cli import jsonl_records, run_cli
from tests.serving_calls import rss_bytes

MIB = 1024 * 1024
# What a user must be able to read in each refusal (lower-cased substring, any of).
REASON_WORDS = {
    "zero_bytes.jpg": ("empty",),
    "truncated.jpg": ("jpeg", "truncat", "premature", "corrupt", "invalid"),
    "text_named.jpg": ("unknown image", "format", "not an image", "invalid"),
    "bomb.png": ("pixel",),
    "oversized.jpg": ("limit", "too large", "bytes"),
}


def test_each_bad_file_gets_its_own_record_and_good_images_are_classified(
    batching_server: ServerHandle,
    trained_svm: Path,
    bad_input_paths: dict[str, Path],
) -> None:
    good = car_photos()[:5]
    ordered: list[str] = []
    for index, case in enumerate(BAD_INPUTS):
        ordered.append(str(bad_input_paths[case.name]))
        if index % 2 == 0:
            ordered.append(str(good[index // 2]))
    rss_before = rss_bytes(batching_server.process.pid)
    result = run_cli(
        "classify", *ordered, "--server", batching_server.grpc_target,
        "--svm", str(trained_svm), "--format", "jsonl",
    )  # fmt: skip
    rss_after = rss_bytes(batching_server.process.pid)
    records = jsonl_records(result.stdout)
    print(
        f"[reliability] classify bad inputs: inputs={len(ordered)} records={len(records)} "
        f"errors={sum(r['error'] is not None for r in records)} exit={result.returncode} "
        f"server_rss_mib={rss_before // MIB}->{rss_after // MIB}"
    )
    assert result.returncode == 1, result.stderr
    assert [record["path"] for record in records] == ordered
    by_path = {record["path"]: record for record in records}
    for case in BAD_INPUTS:
        record = by_path[str(bad_input_paths[case.name])]
        if case.verdict is Verdict.CLASSIFY:
            assert record["error"] is None and record["status"] == "OK", (case.name, record)
            assert record["label"] in ("classic", "modern"), record
        else:
            message = (record["error"] or "").lower()
            assert any(word in message for word in REASON_WORDS[case.name]), (case.name, record)
    for path in good:
        assert by_path[str(path)].get("label") in ("classic", "modern"), by_path[str(path)]
    errors = [json.dumps(r) for r in records if r["error"] is not None]
    assert len(errors) == sum(case.verdict is Verdict.REFUSE for case in BAD_INPUTS), errors
    assert batching_server.process.poll() is None
    assert rss_after < rss_before + 300 * MIB
