"""The golden-outputs file an export leaves in ``VERSION/assets.extra/``: its one format.

Why it exists: a running endpoint (the real TF Serving on a GPU, a TF-TRT or bf16
variant, a pod that loaded a stale version) can only be proven to serve what was exported
by sending inputs whose in-process outputs are known. The exporter writes this file (it
has TensorFlow); ``inception-svm verify`` reads it with the thin client (no TensorFlow), so
the format lives here, in plain JSON with the encoded inputs inline: the file alone is
enough to verify a server (``--golden FILE``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inception_svm_client.exceptions import FileRefused, GoldenError
from inception_svm_client.files import MAX_GOLDEN_BYTES, read_bounded

GOLDEN_FILE = "inception_svm_golden.json"
ASSETS_EXTRA = "assets.extra"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelIdentity:
    """What was exported; a served model is checked against it."""

    model: str  # the network, e.g. "inception_v1"
    version: int  # the version directory it was exported to
    checkpoint: str  # where the weights came from, as given to ``export``
    checkpoint_sha256: str  # of the checkpoint as given (the tarball, .ckpt or V2 files)
    precision: str  # "fp32" or "bf16"
    fold_batchnorm: bool
    preprocessing_version: str


@dataclass(frozen=True)
class Tolerance:
    """How far served logits may be from the golden ones: per input, the max absolute
    difference over all logits must be at most ``relative * max(1, max |golden logit|)``.

    Relative to the input's largest logit so that it holds for real and random weights
    alike (their logit scales differ); ``why`` records how the number was chosen."""

    relative: float
    why: str

    def allowed(self, golden_logits: np.ndarray) -> float:
        return self.relative * max(1.0, float(np.max(np.abs(golden_logits))))


@dataclass(frozen=True)
class GoldenInput:
    name: str  # says what is odd about it: format, colour mode, aspect ratio
    data: bytes
    logits: np.ndarray  # float32 [D]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Golden:
    identity: ModelIdentity
    signature_name: str
    input_name: str
    output_name: str
    tolerance: Tolerance
    inputs: tuple[GoldenInput, ...]

    def to_json(self) -> str:
        document = {
            "format_version": FORMAT_VERSION,
            "identity": self.identity.__dict__,
            "signature": {
                "name": self.signature_name,
                "input": self.input_name,
                "output": self.output_name,
            },
            "tolerance": self.tolerance.__dict__,
            "inputs": [
                {
                    "name": item.name,
                    "sha256": item.sha256,
                    "data_base64": base64.b64encode(item.data).decode("ascii"),
                    # float32 → shortest repr that round-trips, so reading gives the same bits
                    "logits": [float(x) for x in np.asarray(item.logits, np.float32)],
                }
                for item in self.inputs
            ],
        }
        return json.dumps(document, indent=1)

    @classmethod
    def from_json(cls, text: str, source: str = "<golden>") -> Golden:
        try:
            document = json.loads(text)
            if document.get("format_version") != FORMAT_VERSION:
                raise GoldenError(
                    f"{source}: format_version {document.get('format_version')!r}, "
                    f"this client reads {FORMAT_VERSION}"
                )
            inputs = tuple(_golden_input(item, source) for item in document["inputs"])
            if not inputs:
                raise GoldenError(f"{source}: no inputs")
            signature = document["signature"]
            return cls(
                identity=ModelIdentity(**document["identity"]),
                signature_name=signature["name"],
                input_name=signature["input"],
                output_name=signature["output"],
                tolerance=Tolerance(**document["tolerance"]),
                inputs=inputs,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise GoldenError(
                f"{source}: not a golden file ({type(error).__name__}: {error})"
            ) from error

    @property
    def feature_dim(self) -> int:
        return int(self.inputs[0].logits.shape[0])


def _golden_input(item: dict[str, Any], source: str) -> GoldenInput:
    data = base64.b64decode(item["data_base64"], validate=True)
    golden = GoldenInput(item["name"], data, np.asarray(item["logits"], dtype=np.float32))
    if golden.sha256 != item["sha256"]:
        raise GoldenError(f"{source}: input {golden.name!r} does not match its sha256")
    return golden


def golden_path_in(model_dir: Path) -> Path:
    """The golden file of a version dir, or of the highest version under a base path
    (version dirs are any integer name, zero-padded included, as TF Serving reads them)."""
    direct = model_dir / ASSETS_EXTRA / GOLDEN_FILE
    if direct.is_file() or not model_dir.is_dir():
        return direct
    versions = [p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    if not versions:
        return direct
    return max(versions, key=lambda p: int(p.name)) / ASSETS_EXTRA / GOLDEN_FILE


def read_golden(path: Path) -> Golden:
    try:
        text = read_bounded(path, MAX_GOLDEN_BYTES, "golden file").decode("utf-8")
    except FileRefused as error:
        raise GoldenError(error.details) from None
    except UnicodeDecodeError as error:
        raise GoldenError(f"golden file {path} is not UTF-8 text: {error}") from None
    return Golden.from_json(text, str(path))
