"""``assets.extra/tf_serving_warmup_requests``: requests TF Serving replays at model load.

Without them the first real request pays for graph optimisation and oneDNN kernel
selection (seconds); with them a freshly loaded version is fast before it takes traffic.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

WARMUP_FILE = "tf_serving_warmup_requests"
# One bundled photo per request size we warm up: a single image and a small batch.
_WARMUP_PHOTOS = (
    "samples/cat-with-tongue_224x224.jpg",
    "cars/train/classic/classic-14543545060_0467af947a_z.jpg",
    "cars/train/modern/modern-14292532596_177f55e7c9_z.jpg",
)
_BATCH_SIZES = (1, len(_WARMUP_PHOTOS))


def bundled_warmup_images() -> list[bytes]:
    """Encoded demo photos shipped with the client package."""
    data = files("inception_svm_client") / "data"
    return [(data / name).read_bytes() for name in _WARMUP_PHOTOS]


def write_warmup_requests(assets_extra: Path, *, signature_name: str, input_key: str) -> Path:
    """Write a TFRecord of PredictionLog records, one PredictRequest per batch size."""
    images = bundled_warmup_images()
    assets_extra.mkdir(parents=True, exist_ok=True)
    path = assets_extra / WARMUP_FILE
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch_size in _BATCH_SIZES:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature_name
            batch = images[:batch_size]
            request.inputs[input_key].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path
