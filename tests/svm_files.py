"""SVM files as ``train`` writes them, with one metadata field changed: what a user gets
when an SVM trained against another featurizer meets this server."""

from __future__ import annotations

from pathlib import Path

import onnx


def retagged_svm(source: Path, target: Path, **props: str) -> Path:
    """``source`` with the ONNX metadata ``props`` replaced, written to ``target``."""
    model = onnx.load(str(source))
    for prop in model.metadata_props:
        if prop.key in props:
            prop.value = props[prop.key]
    onnx.save(model, str(target))
    return target
