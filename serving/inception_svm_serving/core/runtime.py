"""The only module that runs a SavedModel: load one version, run its signatures the way
tensorflow_model_server does, on a TF1 session over the bundle (image_headers.py runs the
header parser the graph shares with admission control, nothing else).

TF Serving loads the ``serve`` MetaGraph into a ``Session`` (``saved_model_bundle_factory``
→ ``LoadSavedModel``) and answers Predict with ``Session::Run``, feeding and fetching the
SignatureDef's tensor *names* (``predict_util.cc``: ``PreProcessPrediction`` maps aliases to
names, ``RunPredict`` calls ``session->Run``); it never calls TF2 signature functions. The
stand-in does the same through ``tf.compat.v1``, so a SavedModel TF Serving could not run
fails here too. Measured against TF2's ``tf.saved_model.load`` signature functions
(``python -m tests.benchmarks.runtime_paths``): identical logits (max |diff| 0 at batch
1/8/32), loads in ~60 % of the time, runs 4-17 % slower at batch 1/8 and even at batch 32
(2 shared cores under load, interleaved calls); fidelity to TF Serving decided it.

Everything above this works on numpy arrays and plain Python, so the protocol layers stay
testable and the TF dependency stays in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import prediction_log_pb2

from inception_svm_client.contract import SERVING_SIGNATURE
from inception_svm_serving._exceptions import Internal, InvalidArgument
from inception_svm_serving.config.options import SessionOptions

SERVE_TAG = "serve"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


@dataclass(frozen=True)
class LoadedTensor:
    """One signature input/output: the alias clients use, its dtype and (partial) shape."""

    alias: str
    dtype: np.dtype[Any]
    dtype_name: str
    shape: tuple[int | None, ...] | None  # None: unknown rank


@dataclass(frozen=True)
class LoadedSignature:
    name: str
    inputs: Mapping[str, LoadedTensor]
    outputs: Mapping[str, LoadedTensor]


def loaded_tensor(alias: str, info: meta_graph_pb2.TensorInfo) -> LoadedTensor:
    dtype = tf.dtypes.as_dtype(info.dtype)
    shape: tuple[int | None, ...] | None = None
    if not info.tensor_shape.unknown_rank:
        shape = tuple(None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)
    return LoadedTensor(alias, np.dtype(dtype.as_numpy_dtype), dtype.name, shape)


def session_config(options: SessionOptions) -> tf.compat.v1.ConfigProto:
    """The session config TF Serving's ``server.cc`` builds from the same flags."""
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=options.intra_op_parallelism,
        inter_op_parallelism_threads=options.inter_op_parallelism,
    )
    config.gpu_options.per_process_gpu_memory_fraction = options.per_process_gpu_memory_fraction
    return config


class LoadedModel:
    """One loaded servable version on a TF1 session. Thread-safe: ``Session.run`` is."""

    def __init__(
        self, name: str, version: int, path: Path, config: tf.compat.v1.ConfigProto | None = None
    ) -> None:
        self.name = name
        self.version = version
        self.path = path
        started = time.monotonic()
        self._graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=self._graph, config=config)
        with self._graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self._session, [SERVE_TAG], str(path))
        # The MetaGraph's own descriptions, shared with every metadata request: never modify.
        self.signature_defs: Mapping[str, meta_graph_pb2.SignatureDef] = dict(
            meta_graph.signature_def
        )
        # Only signatures with typed tensors can run: TF2 exports also list
        # __saved_model_init_op (DT_INVALID outputs), which metadata shows but Predict cannot.
        runnable = {
            key: sig
            for key, sig in meta_graph.signature_def.items()
            if all(info.dtype for info in (*sig.inputs.values(), *sig.outputs.values()))
        }
        self.signatures: Mapping[str, LoadedSignature] = {
            key: LoadedSignature(
                key,
                {a: loaded_tensor(a, i) for a, i in sig.inputs.items()},
                {a: loaded_tensor(a, i) for a, i in sig.outputs.items()},
            )
            for key, sig in runnable.items()
        }
        self._runners = {key: self._runner(sig) for key, sig in runnable.items()}
        self.load_seconds = time.monotonic() - started

    def _runner(self, signature: Any) -> tuple[list[str], list[str], Callable[..., Any]]:
        input_aliases = sorted(signature.inputs)
        output_aliases = sorted(signature.outputs)
        feeds = [self._graph.get_tensor_by_name(signature.inputs[a].name) for a in input_aliases]
        fetches = [
            self._graph.get_tensor_by_name(signature.outputs[a].name) for a in output_aliases
        ]
        return input_aliases, output_aliases, self._session.make_callable(fetches, feeds)

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one signature by tensor names; graph-side bad input → InvalidArgument."""
        input_aliases, output_aliases, call = self._runners[signature_name]
        try:
            values = call(*(inputs[alias] for alias in input_aliases))
        except tf.errors.InvalidArgumentError as error:
            raise InvalidArgument(op_error_text(error.message)) from error
        except tf.errors.OpError as error:
            raise Internal(f"{type(error).__name__}: {error.message}") from error
        except ValueError as error:
            # The session refuses a feed its placeholder's shape does not admit ("Cannot feed
            # value of shape ..."). Kept on purpose: past it, some kernels abort the process
            # on a wrong rank (oneDNN Conv2D CHECK-fails on a rank-3 image batch).
            raise InvalidArgument(str(error)) from error
        return {alias: np.asarray(v) for alias, v in zip(output_aliases, values, strict=True)}

    def warmup_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        return read_warmup_requests(self.path)

    def close(self) -> None:
        self._session.close()


def read_warmup_requests(path: Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The PredictRequests recorded in assets.extra, as (signature, inputs) pairs."""
    warmup_path = path / WARMUP_FILE
    if not warmup_path.exists():
        return []
    requests = []
    for record in tf.data.TFRecordDataset(str(warmup_path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") != "predict_log":
            raise Internal(f"{warmup_path}: only predict_log warmup records are supported")
        request = log.predict_log.request
        signature = request.model_spec.signature_name or SERVING_SIGNATURE
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        requests.append((signature, inputs))
    return requests


def op_error_text(message: str) -> str:
    """The cause of a graph error without TF's node/stack-trace noise, for the caller."""
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[{{node")
    lines = [line.strip() for line in message.splitlines()]
    kept = [line for line in lines if line and not line.startswith(noise)]
    return " ".join(kept) or message
