"""The only module that runs TensorFlow: load one SavedModel version, run its signatures.

Everything above this works on numpy arrays and plain Python, so the protocol layers stay
testable and the TF dependency stays in one place. Signatures are called through TF's own
SavedModel loader, so results are bit-identical to ``tf.saved_model.load`` in-process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, prediction_log_pb2

from inception_svm_export.preprocessing import header_dimensions
from inception_svm_serving.errors import Internal, InvalidArgument

SERVE_TAG = "serve"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
DEFAULT_SIGNATURE = "serving_default"


@dataclass(frozen=True)
class TensorSpec:
    """One signature input/output: the alias clients use, its dtype and (partial) shape."""

    alias: str
    dtype: np.dtype[Any]
    dtype_name: str
    shape: tuple[int | None, ...] | None  # None: unknown rank


@dataclass(frozen=True)
class SignatureSpec:
    name: str
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]


def _tensor_spec(alias: str, info: meta_graph_pb2.TensorInfo) -> TensorSpec:
    dtype = tf.dtypes.as_dtype(info.dtype)
    shape: tuple[int | None, ...] | None = None
    if not info.tensor_shape.unknown_rank:
        shape = tuple(None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)
    return TensorSpec(alias, np.dtype(dtype.as_numpy_dtype), dtype.name, shape)


def _read_meta_graph(path: Path) -> meta_graph_pb2.MetaGraphDef:
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    raise Internal(f"{path}: no MetaGraph tagged {SERVE_TAG!r}")


class LoadedModel:
    """One loaded servable version. Thread-safe: TF eager calls may run concurrently."""

    def __init__(self, name: str, version: int, path: Path) -> None:
        self.name = name
        self.version = version
        self.path = path
        started = time.monotonic()
        meta_graph = _read_meta_graph(path)
        # The GetModelMetadata reply's payload, built once; requests only read it.
        self.signature_def_map = get_model_metadata_pb2.SignatureDefMap()
        self.signature_def_map.signature_def.MergeFrom(meta_graph.signature_def)
        self._module = tf.saved_model.load(str(path), tags=[SERVE_TAG])
        self._functions = dict(self._module.signatures)
        self.signatures: Mapping[str, SignatureSpec] = {
            key: SignatureSpec(
                key,
                {a: _tensor_spec(a, i) for a, i in sig.inputs.items()},
                {a: _tensor_spec(a, i) for a, i in sig.outputs.items()},
            )
            for key, sig in meta_graph.signature_def.items()
            if key in self._functions
        }
        self.load_seconds = time.monotonic() - started

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one signature; graph-side bad input (e.g. undecodable image) -> InvalidArgument."""
        function = self._functions[signature_name]
        try:
            outputs = function(**{k: tf.constant(v) for k, v in inputs.items()})
        except tf.errors.InvalidArgumentError as error:
            raise InvalidArgument(_op_error_text(error.message)) from error
        except tf.errors.OpError as error:
            raise Internal(f"{type(error).__name__}: {error.message}") from error
        return {k: v.numpy() for k, v in outputs.items()}

    def warmup_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        """The PredictRequests recorded in assets.extra, as (signature, inputs) pairs."""
        warmup_path = self.path / WARMUP_FILE
        if not warmup_path.exists():
            return []
        requests = []
        for record in tf.data.TFRecordDataset(str(warmup_path)).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog.FromString(record)
            if log.WhichOneof("log_type") != "predict_log":
                raise Internal(f"{warmup_path}: only predict_log warmup records are supported")
            request = log.predict_log.request
            signature = request.model_spec.signature_name or DEFAULT_SIGNATURE
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            requests.append((signature, inputs))
        return requests


def _op_error_text(message: str) -> str:
    """The cause of a graph error without TF's node/stack-trace noise, for the caller."""
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[{{node")
    lines = [line.strip() for line in message.splitlines()]
    kept = [line for line in lines if line and not line.startswith(noise)]
    return " ".join(kept) or message


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
def _header_sizes(images: tf.Tensor) -> tf.Tensor:
    return tf.map_fn(
        lambda data: tf.stack(header_dimensions(data)), images, fn_output_signature=tf.int64
    )


def _as_bytes(value: Any) -> bytes:
    """An element of a string tensor as bytes; anything else counts as no image (b"")."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace")
    return b""


def encoded_image_sizes(values: np.ndarray) -> list[tuple[int, int]]:
    """(width, height) of a string tensor's elements, read from their headers with the same
    parser the SavedModel uses, so admission and the graph agree on an image's size. What is
    not a recognisable image header counts (0, 0): the decoder rejects it with its own
    message."""
    flat = [_as_bytes(v) for v in np.asarray(values, dtype=object).reshape(-1)]
    if not flat:
        return []
    try:
        sizes = _header_sizes(tf.constant(flat, tf.string)).numpy()
        return [(int(w), int(h)) for w, h in sizes]
    except tf.errors.InvalidArgumentError:  # a corrupt JPEG header: read image by image
        result = []
        for item in flat:
            try:
                width, height = _header_sizes(tf.constant([item], tf.string)).numpy()[0]
                result.append((int(width), int(height)))
            except tf.errors.InvalidArgumentError:
                result.append((0, 0))
        return result
