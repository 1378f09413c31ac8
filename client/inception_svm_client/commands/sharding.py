"""Which inputs one shard of a bulk run classifies, and where that shard writes.

Part of the CLI layer (under ``commands``): it reads ``--shard``/``--shard-count`` text and
the Job's environment variables, and its messages name those flags.

An input belongs to shard ``sha256(encoded path) mod COUNT``. A hash of the path, rather
than its position in the listing, keeps every input in the same shard when the listing
changes between a shard's first try and its retry (files added or removed, another node
walking the volume): each path's shard depends on that path alone, so shards never
overlap and a retried shard resumes the same inputs. ``sha256`` (not Python's ``hash``,
which is salted per process) gives the same answer on every machine. The cost is a
statistical balance: shards differ by a few per cent at a million inputs.

In a Kubernetes Indexed Job, the index comes from ``JOB_COMPLETION_INDEX``, which the Job
controller sets in every pod; the count is the Job's ``completions``, which no pod can
see, so it is given by ``--shard-count`` or ``INCEPTION_SVM_SHARD_COUNT``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from inception_svm_client.records import encode_path

INDEX_ENV = "JOB_COMPLETION_INDEX"
COUNT_ENV = "INCEPTION_SVM_SHARD_COUNT"
PLACEHOLDER = "{shard}"


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(
                f"shard {self.index}/{self.count}: need COUNT >= 1 and 0 <= INDEX < COUNT"
            )

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, path: str) -> bool:
        if self.count == 1:
            return True
        digest = hashlib.sha256(encode_path(path).encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    def output_path(self, template: Path) -> Path:
        """``{shard}`` in the output name replaced by this shard's index."""
        return Path(str(template).replace(PLACEHOLDER, str(self.index)))


def _integer(text: str, what: str) -> int:
    """ASCII digits only: ``int`` also takes "１" (fullwidth), which no Job sets."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or len(stripped) > 9:
        raise ValueError(f"{what} must be a non-negative integer, not {text!r}")
    return int(stripped)


def parse_shard(text: str) -> Shard:
    """``INDEX/COUNT`` as given to ``--shard``."""
    index, slash, count = text.partition("/")
    if not slash:
        raise ValueError(f"--shard {text!r}: expected INDEX/COUNT, e.g. 0/8")
    return Shard(_integer(index, "--shard INDEX"), _integer(count, "--shard COUNT"))


def resolve_shard(
    flag: str | None, count_flag: int | None, environ: Mapping[str, str]
) -> Shard | None:
    """``--shard`` wins; else ``JOB_COMPLETION_INDEX`` with the count from ``--shard-count``
    or ``INCEPTION_SVM_SHARD_COUNT``. An index without a count is refused: every pod of
    the Job would classify every input."""
    if flag is not None:
        return parse_shard(flag)
    index_text = environ.get(INDEX_ENV, "").strip()
    count_text = environ.get(COUNT_ENV, "").strip()
    count = count_flag if count_flag is not None else None
    if count is None and count_text:
        count = _integer(count_text, COUNT_ENV)
    if not index_text:
        if count_flag is not None:
            raise ValueError(f"--shard-count needs {INDEX_ENV} (or give --shard INDEX/COUNT)")
        if count is not None:
            # Without the index every pod would classify every input.
            raise ValueError(f"{COUNT_ENV} needs {INDEX_ENV} (or give --shard INDEX/COUNT)")
        return None
    if count is None:
        raise ValueError(
            f"{INDEX_ENV}={index_text} is set (an Indexed Job): give the Job's completions "
            f"as --shard-count or {COUNT_ENV}, or --shard INDEX/COUNT"
        )
    return Shard(_integer(index_text, INDEX_ENV), count)


def shard_output(template: Path | None, shard: Shard | None) -> Path | None:
    """The shard's own output file. With more than one shard the name must contain
    ``{shard}``: shards writing (or uploading) one file would overwrite each other's work."""
    if template is None:
        return None
    has_placeholder = PLACEHOLDER in str(template)
    if shard is None:
        if has_placeholder:
            raise ValueError(f"--output {template}: {PLACEHOLDER} needs --shard or {INDEX_ENV}")
        return template
    if shard.count > 1 and not has_placeholder:
        raise ValueError(
            f"--output {template}: with {shard.count} shards the name must contain "
            f"{PLACEHOLDER} (e.g. results-{PLACEHOLDER}.jsonl), one file per shard"
        )
    return shard.output_path(template)
