"""Inception v1's layer table exactly as TF-Slim names it, plus the official variable list.

Kept apart from the forward pass so that the checkpoint validator, the random-checkpoint
writer and the network all agree on one source of truth.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path

SCOPE = "InceptionV1"
IMAGE_SIZE = 224
BATCHNORM_EPSILON = 0.001
LOGITS_SCOPE = f"{SCOPE}/Logits/Conv2d_0c_1x1"


@dataclasses.dataclass(frozen=True)
class MixedBlock:
    """Filter counts of one Inception module: 1x1 | 1x1→3x3 | 1x1→3x3 | pool→1x1."""

    name: str
    branch_0: int
    branch_1: tuple[int, int]
    branch_2: tuple[int, int]
    branch_3: int
    # TF-Slim's Mixed_5b names its third branch's 3x3 conv "Conv2d_0a_3x3" (sic); the
    # released checkpoint carries that name, so the model must too.
    branch_2_conv_name: str = "Conv2d_0b_3x3"


MIXED_BLOCKS: dict[str, MixedBlock] = {
    b.name: b
    for b in (
        MixedBlock("Mixed_3b", 64, (96, 128), (16, 32), 32),
        MixedBlock("Mixed_3c", 128, (128, 192), (32, 96), 64),
        MixedBlock("Mixed_4b", 192, (96, 208), (16, 48), 64),
        MixedBlock("Mixed_4c", 160, (112, 224), (24, 64), 64),
        MixedBlock("Mixed_4d", 128, (128, 256), (24, 64), 64),
        MixedBlock("Mixed_4e", 112, (144, 288), (32, 64), 64),
        MixedBlock("Mixed_4f", 256, (160, 320), (32, 128), 128),
        MixedBlock("Mixed_5b", 256, (160, 320), (32, 128), 128, "Conv2d_0a_3x3"),
        MixedBlock("Mixed_5c", 384, (192, 384), (48, 128), 128),
    )
}


@cache
def official_variables() -> dict[str, tuple[int, ...]]:
    """Name → shape of the 230 variables in ``inception_v1_2016_08_28``."""
    # Path(__file__), not importlib.resources: the editable install may expose this package
    # as a namespace package, for which resources.files() fails.
    text = (Path(__file__).parent / "checkpoint_variables.json").read_text()
    return {entry["name"]: tuple(entry["shape"]) for entry in json.loads(text)}


def conv_scopes() -> list[str]:
    """Scopes of every conv+batch-norm unit, in checkpoint order."""
    return [
        name.removesuffix("/weights")
        for name in official_variables()
        if name.endswith("/weights") and not name.startswith(LOGITS_SCOPE)
    ]
