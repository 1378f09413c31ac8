"""Write a checkpoint with the official names, shapes, dtype and file format, random values.

Lets tests and ``make demo WEIGHTS=random`` run without downloading the real weights.
Values are He-scaled with positive variances so activations neither vanish nor blow up:
the logits stay finite and differ from image to image, which keeps the downstream SVM
tests meaningful.

    python -m inception_svm_export.random_checkpoint OUT [--format v1|v2] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from inception_svm_export.architecture import official_variables

CheckpointFormat = Literal["v1", "v2"]


def random_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Name → float32 array for every official variable."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for name, shape in official_variables().items():
        leaf = name.rsplit("/", 1)[1]
        if leaf == "weights":
            fan_in = int(np.prod(shape[:-1]))
            gain = 1.0 if "/Logits/" in name else 2.0
            value = rng.normal(0.0, np.sqrt(gain / fan_in), shape)
        elif leaf == "moving_variance":
            value = rng.uniform(0.5, 1.5, shape)
        elif leaf in ("beta", "moving_mean", "biases"):
            value = rng.normal(0.0, 0.1, shape)
        else:
            raise AssertionError(f"unexpected variable {name}")
        weights[name] = value.astype(np.float32)
    return weights


def write_checkpoint(
    weights: Mapping[str, np.ndarray], path: Path | str, *, fmt: CheckpointFormat = "v1"
) -> Path:
    """Write ``weights`` as a V1 single file at ``path`` or a V2 checkpoint with prefix ``path``.

    Returns what ``tf.train.load_checkpoint`` accepts: the file (V1) or the prefix (V2).
    """
    import tensorflow as tf  # deferred: importing TF costs seconds the CLI --help should not pay

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(weights)
    tensors = [tf.constant(weights[name]) for name in names]
    if fmt == "v1":
        # The `Save` op writes the legacy V1 table format, like the released inception_v1.ckpt.
        tf.raw_ops.Save(filename=str(path), tensor_names=names, data=tensors)
    elif fmt == "v2":
        tf.raw_ops.SaveV2(
            prefix=str(path),
            tensor_names=names,
            shape_and_slices=[""] * len(names),
            tensors=tensors,
        )
    else:
        raise ValueError(f"unknown checkpoint format {fmt!r}; expected 'v1' or 'v2'")
    return path


def write_random_checkpoint(
    path: Path | str, *, fmt: CheckpointFormat = "v1", seed: int = 0
) -> Path:
    """A random checkpoint at ``path`` (V1 file or V2 prefix); returns ``path``."""
    return write_checkpoint(random_weights(seed), path, fmt=fmt)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inception_svm_export.random_checkpoint")
    parser.add_argument("out", type=Path, help="V1 checkpoint file, or V2 checkpoint prefix")
    parser.add_argument("--format", choices=("v1", "v2"), default="v1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fmt: CheckpointFormat = "v2" if args.format == "v2" else "v1"
    print(write_random_checkpoint(args.out, fmt=fmt, seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
