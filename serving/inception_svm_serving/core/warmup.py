"""Model warmup at load, ported from TF Serving's ``RunSavedModelWarmupUntracked``
(tensorflow_serving/servables/tensorflow/saved_model_warmup_util.cc) and ``RunWarmupRequest``
(saved_model_warmup.cc), at tensorflow/serving 9d981c5c.

The records of ``assets.extra/tf_serving_warmup_requests`` are read and run one by one through
the servable's batching queues, exactly as live requests would be, so a record the served
configuration would refuse (e.g. a batch larger than ``max_batch_size``) fails the load here,
as it does in the model server. Every error is returned with TF Serving's code and message:
the load fails and is retried like any other load error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from inception_svm_client.contract import SERVING_SIGNATURE
from inception_svm_serving._exceptions import (
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    Unimplemented,
)
from inception_svm_serving.core.runtime import LoadedSignature

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"  # WarmupConsts
MAX_WARMUP_RECORDS = 1000  # kMaxNumRecords


def run_warmup(
    version_dir: Path,
    signatures: Mapping[str, LoadedSignature],
    execute: Callable[[str, Mapping[str, np.ndarray]], object],
    iterations: int,
) -> int:
    """Replay the warmup file; returns the number of records read (0 if there is none).

    ``iterations`` < 1 reads and counts the records without running them, as TF Serving does
    for ``num_request_iterations`` <= 0."""
    path = version_dir / WARMUP_FILE
    if not path.exists():
        return 0  # "No warmup data file found at <path>", OK
    count = 0
    try:
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog()
            try:
                log.ParseFromString(record)
            except Exception:  # protobuf's DecodeError, and anything it wraps
                raise InvalidArgument(
                    f"Failed to parse warmup record: {record!r} from {path}"
                ) from None
            for _ in range(iterations):
                _run_record(log, signatures, execute)
            count += 1
            if count > MAX_WARMUP_RECORDS:
                raise InvalidArgument(
                    f"Number of warmup records exceeds the maximum ({MAX_WARMUP_RECORDS}) at {path}"
                )
    except tf.errors.DataLossError as error:
        raise DataLoss(
            f"{error.message}. Please verify your warmup data is in TFRecord format."
        ) from None
    return count


def _run_record(
    log: prediction_log_pb2.PredictionLog,
    signatures: Mapping[str, LoadedSignature],
    execute: Callable[[str, Mapping[str, np.ndarray]], object],
) -> None:
    """RunWarmupRequest: only Predict can run in the stand-in (it serves no Classify,
    Regress or MultiInference); an unset log_type is skipped."""
    kind = log.WhichOneof("log_type")
    if kind is None:
        return
    if kind != "predict_log":
        number = log.DESCRIPTOR.fields_by_name[kind].number
        if kind in ("session_run_log", "predict_streamed_log"):
            raise Unimplemented(f"Unsupported log_type for warmup: {number}")
        raise Unimplemented(f"the stand-in serves Predict only; warmup log_type {number} ({kind})")
    request = log.predict_log.request
    name = request.model_spec.signature_name or SERVING_SIGNATURE
    signature = signatures.get(name)
    if signature is None:
        raise FailedPrecondition(f'Serving signature key "{name}" not found.')
    sent, expected = set(request.inputs), set(signature.inputs)
    if sent != expected:
        raise InvalidArgument(
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
            f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
            f"Missing but required: {{{','.join(sorted(expected - sent))}}}."
        )
    execute(name, {k: tf.make_ndarray(v) for k, v in request.inputs.items()})
