"""ImageNet top-k through the ``classify_imagenet`` signature: the original demo's first
check (does the network see a cat in the cat photo?) before its classifier is stripped off.

``ImagenetClient`` is a ``Featurizer`` whose rows are top-k answers instead of feature
vectors, so it gets batching, retries and bisection of bad images for free; only the
response decoding differs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from inception_svm_client.config import FeaturizerConfig
from inception_svm_client.contract import (
    CHECKPOINT_OUTPUT,
    CLASS_NAMES_OUTPUT,
    CLASSES_OUTPUT,
    IMAGENET_SIGNATURE,
    PROBABILITIES_OUTPUT,
)
from inception_svm_client.exceptions import ClientError, SignatureMismatchError
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.inputs import bundled_cat_photo

DEFAULT_TOP_K = 5
# Cat classes in TF-Slim's 1001-class order: tabby, tiger cat, Persian, Siamese, Egyptian
# cat, and lynx (the talk's fourth answer for its cat photo).
CAT_CLASSES = frozenset({282, 283, 284, 285, 286, 288})
OFFICIAL_MARK = "official "  # how the export's provenance line starts for the release
_EXPECTED_OUTPUTS = {
    PROBABILITIES_OUTPUT: wire.DT_FLOAT,
    CLASSES_OUTPUT: wire.DT_INT32,
    CLASS_NAMES_OUTPUT: wire.DT_STRING,
    CHECKPOINT_OUTPUT: wire.DT_STRING,
}


@dataclass(frozen=True)
class TopClass:
    index: int
    name: str
    probability: float


@dataclass(frozen=True)
class ImagenetRecord:
    """The top classes of one input, or why it has none."""

    path: str
    classes: tuple[TopClass, ...] = ()
    checkpoint: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {
            "path": self.path,
            "top": [
                {"index": c.index, "name": c.name, "probability": float(f"{c.probability:.6g}")}
                for c in self.classes
            ],
            "checkpoint": self.checkpoint,
        }


def imagenet_config(config: FeaturizerConfig, signature_name: str | None) -> FeaturizerConfig:
    """``config`` pointed at the top-k signature, asking for exactly its four outputs."""
    spec = dataclasses.replace(
        config.target,
        signature_name=signature_name or IMAGENET_SIGNATURE,
        output_name=PROBABILITIES_OUTPUT,
        extra_outputs=(CLASSES_OUTPUT, CLASS_NAMES_OUTPUT, CHECKPOINT_OUTPUT),
    )
    # The top-k signature has no pixels twin: its images always go as bytes.
    return dataclasses.replace(config, target=spec, preprocess="server")


class ImagenetClient(Featurizer):
    """``featurize`` yields rows of a structured array: classes, names, probabilities,
    checkpoint; ``to_record`` turns one into an ``ImagenetRecord``."""

    def max_top_k(self) -> int:
        """K of the served signature, after checking it has every top-k output."""
        signature = self.fetch_signature()
        for name, dtype in _EXPECTED_OUTPUTS.items():
            spec = signature.outputs.get(name)
            if spec is None or spec.dtype != dtype:
                found = "missing" if spec is None else spec.describe()
                raise SignatureMismatchError(
                    f"signature {signature.signature_name!r} output {name!r} is {found}, "
                    f"expected {wire.dtype_name(dtype)} (export the model again)"
                )
        shape = signature.outputs[PROBABILITIES_OUTPUT].shape
        return shape[1] if shape is not None and len(shape) == 2 and shape[1] > 0 else 0

    def decode_output(self, data: bytes, batch_size: int) -> wire.PredictOutput:
        outputs, model_name, model_version = wire.decode_outputs(
            data, list(_EXPECTED_OUTPUTS), batch_size
        )
        probabilities = outputs[PROBABILITIES_OUTPUT]
        k = probabilities.shape[1] if probabilities.ndim == 2 else -1
        expected: dict[str, tuple[int, ...]] = {
            PROBABILITIES_OUTPUT: (batch_size, k),
            CLASSES_OUTPUT: (batch_size, k),
        }
        expected |= {CLASS_NAMES_OUTPUT: (batch_size, k), CHECKPOINT_OUTPUT: (batch_size,)}
        for name, shape in expected.items():
            if outputs[name].shape != shape:
                raise wire.WireError(f"{name!r} has shape {list(outputs[name].shape)}")
        rows = np.empty(
            batch_size,
            dtype=[
                (CLASSES_OUTPUT, np.int64, (k,)),
                (CLASS_NAMES_OUTPUT, object, (k,)),
                (PROBABILITIES_OUTPUT, np.float64, (k,)),
                (CHECKPOINT_OUTPUT, object),
            ],
        )
        for name in _EXPECTED_OUTPUTS:
            rows[name] = outputs[name]
        return wire.PredictOutput(rows, model_name, model_version)


def cat_top_k(featurizer: Featurizer) -> ImagenetRecord:
    """The bundled cat photo's top classes and the weights that answered, on the server
    ``featurizer`` talks to; raises ClientError (FAILED_PRECONDITION: no such signature)."""
    client = ImagenetClient(featurizer.channel, imagenet_config(featurizer.config, None))
    response = client.predict_with_retry([bundled_cat_photo().read_bytes()])
    return to_record(str(bundled_cat_photo()), response.features[0], DEFAULT_TOP_K)


def served_weights(featurizer: Featurizer) -> str | None:
    """Which weights the served model holds, read through TF Serving's own API; None for
    an export without the top-k signature (or a server that will not say)."""
    try:
        return cat_top_k(featurizer).checkpoint
    except ClientError:
        return None


def is_official(checkpoint: str | None) -> bool:
    """The export's provenance line (``WeightsProvenance.describe``) names the release."""
    return bool(checkpoint) and str(checkpoint).startswith(OFFICIAL_MARK)


def to_record(path: str, row: Any, top_k: int) -> ImagenetRecord:
    """One decoded row (see ``ImagenetClient.decode_output``), cut to ``top_k``."""
    classes = tuple(
        TopClass(int(index), _text(name), float(probability))
        for index, name, probability in zip(
            row[CLASSES_OUTPUT][:top_k],
            row[CLASS_NAMES_OUTPUT][:top_k],
            row[PROBABILITIES_OUTPUT][:top_k],
            strict=True,
        )
    )
    return ImagenetRecord(path, classes, _text(row[CHECKPOINT_OUTPUT]))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
