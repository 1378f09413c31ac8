"""``assets.extra/tf_serving_warmup_requests``: requests TF Serving replays at model load.

Without them the first real request pays for graph optimisation and kernel selection
(seconds; on GPU, one set of kernels per batch shape); with them a freshly loaded version
is fast before it takes traffic. With batching, TF Serving pads every batch to one of the
batching file's ``allowed_batch_sizes``, so those are exactly the shapes live traffic hits:
``warmup_batch_sizes`` derives them from the batching file the server will use.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from inception_svm_export.exceptions import WarmupError
from inception_svm_serving import ConfigError, load_batching_parameters

WARMUP_FILE = "tf_serving_warmup_requests"
_WARMUP_PHOTOS = (
    "samples/cat-with-tongue_224x224.jpg",
    "cars/train/classic/classic-14543545060_0467af947a_z.jpg",
    "cars/train/modern/modern-14292532596_177f55e7c9_z.jpg",
)
# Larger batches are filled with a low-quality re-encode of the 224x224 sample (~10 KB, the
# network sees the same shapes): warming GPU batches of up to 128 adds ~2 MB, not ~30 MB.
_FILLER_JPEG_QUALITY = 50
# Without a batching file: one image and a small batch.
DEFAULT_WARMUP_BATCH_SIZES: tuple[int, ...] = (1, len(_WARMUP_PHOTOS))


def warmup_batch_sizes(batching_parameters: Path | Sequence[Path] | None) -> tuple[int, ...]:
    """Every batch size TF Serving can execute under each of ``batching_parameters`` that
    every one of them accepts.

    Per file: ``allowed_batch_sizes`` up to the largest executed batch when set (padding
    makes them the only shapes), otherwise 1 and the largest executed batch. Several files
    (one export served by several configurations, e.g. the GPU and the CPU overlay): the
    union of those sizes,
    capped at the smallest ``max_batch_size``, because warmup runs through the batching
    queue, where a request over ``max_batch_size`` fails ("Task size N is larger than maximum
    input batch size M") and with it the whole model load (saved_model_warmup_util.cc).
    No file: ``DEFAULT_WARMUP_BATCH_SIZES``.
    """
    if batching_parameters is None:
        paths: tuple[Path, ...] = ()
    elif isinstance(batching_parameters, Path):
        paths = (batching_parameters,)
    else:
        paths = tuple(batching_parameters)
    if not paths:
        return DEFAULT_WARMUP_BATCH_SIZES
    sizes: set[int] = set()
    cap = None
    for path in paths:
        try:
            options = load_batching_parameters(path)
        except (ConfigError, OSError) as error:
            raise WarmupError(f"--warmup-batching-parameters: {error}") from None
        # Only sizes up to the execution limit are ever run: with splitting, larger allowed
        # sizes (the last one must equal max_batch_size) are never formed.
        limit = options.execution_batch_limit
        allowed = {s for s in options.allowed_batch_sizes if s <= limit}
        sizes |= allowed or {1, limit}
        cap = options.max_batch_size if cap is None else min(cap, options.max_batch_size)
    return tuple(sorted(s for s in sizes if cap is None or s <= cap))


def bundled_warmup_images() -> list[bytes]:
    """Encoded demo photos shipped with the client package."""
    data = files("inception_svm_client") / "data"
    return [(data / name).read_bytes() for name in _WARMUP_PHOTOS]


def write_warmup_requests(
    assets_extra: Path,
    *,
    signature_name: str,
    input_key: str,
    batch_sizes: Sequence[int] = DEFAULT_WARMUP_BATCH_SIZES,
) -> Path:
    """Write a TFRecord of PredictionLog records, one PredictRequest per batch size."""
    photos = bundled_warmup_images()
    small = tf.io.encode_jpeg(
        tf.io.decode_jpeg(photos[0], channels=3), quality=_FILLER_JPEG_QUALITY
    ).numpy()
    filler = itertools.repeat(small)
    assets_extra.mkdir(parents=True, exist_ok=True)
    path = assets_extra / WARMUP_FILE
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch_size in batch_sizes:
            batch = list(itertools.islice(itertools.chain(photos, filler), batch_size))
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature_name
            request.inputs[input_key].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path
