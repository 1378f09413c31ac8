"""Warmup records cover every batch shape the server's batching file lets TF Serving run.

TF Serving pads each batch to one of ``allowed_batch_sizes`` and replays
``assets.extra/tf_serving_warmup_requests`` at load (saved_model_warmup_util.cc), so with
warmup for exactly those sizes no shape is first compiled under live traffic.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from inception_svm_export.exceptions import WarmupError
from inception_svm_export.warmup import (
    DEFAULT_WARMUP_BATCH_SIZES,
    WARMUP_FILE,
    warmup_batch_sizes,
    write_warmup_requests,
)
from inception_svm_serving.config.options import load_batching_parameters
from tests.paths import REPO_ROOT, SERVING_DIR


def warmup_batch_sizes_in(path: Path) -> list[int]:
    """The batch size of each record in a warmup file, as TF Serving would replay it."""
    sizes = []
    for record in tf.data.TFRecordDataset(str(path)):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        sizes.append(len(tf.make_ndarray(request.inputs["images"])))
    return sizes


BATCHING_FILES = ["batching_parameters.txt", "batching_parameters_gpu.txt"]


@pytest.mark.parametrize("batching_file", BATCHING_FILES)
def test_warmup_covers_every_allowed_batch_size(batching_file: str, tmp_path: Path) -> None:
    path = SERVING_DIR / batching_file
    options = load_batching_parameters(path)
    # Executed batches are padded to these; the larger ones (up to max_batch_size, which
    # TF Serving requires as the last entry) are never formed with splitting on.
    allowed = [s for s in options.allowed_batch_sizes if s <= options.execution_batch_limit]
    assert allowed, f"{batching_file} sets no allowed_batch_sizes"
    written = write_warmup_requests(
        tmp_path,
        signature_name="serving_default",
        input_key="images",
        batch_sizes=warmup_batch_sizes(path),
    )
    assert warmup_batch_sizes_in(written) == allowed
    # Filled with a small re-encoded photo: warming 128-image batches stays cheap to ship.
    assert written.stat().st_size < 4 * 1024 * 1024


def test_one_export_for_several_servers_fits_the_smallest_max_batch_size(tmp_path: Path) -> None:
    """The exporter Job's flags: both overlays' files. Warmup runs through the batching queue
    (saved_model_warmup_util.cc), where a record over max_batch_size fails the model load, so
    no record may exceed the CPU file's 64; every shape either file pads to up to 64 is kept."""
    cpu, gpu = (SERVING_DIR / name for name in BATCHING_FILES)
    sizes = warmup_batch_sizes([gpu, cpu])
    assert sizes == (1, 2, 4, 8, 16, 32, 64)
    assert max(sizes) <= load_batching_parameters(cpu).max_batch_size
    for path in (cpu, gpu):
        padded = set(load_batching_parameters(path).allowed_batch_sizes)
        assert {s for s in padded if s <= 64} <= set(sizes)
    assert warmup_batch_sizes([]) == DEFAULT_WARMUP_BATCH_SIZES


def test_exporter_job_passes_every_overlays_batching_file() -> None:
    job = (REPO_ROOT / "k8s" / "examples" / "exporter-job" / "exporter-job.yaml").read_text()
    passed = re.findall(r"--warmup-batching-parameters=/opt/inception-svm/serving/(\S+)", job)
    assert sorted(passed) == sorted(BATCHING_FILES)


def test_without_a_batching_file_the_defaults_are_written(tmp_path: Path) -> None:
    written = write_warmup_requests(tmp_path, signature_name="serving_default", input_key="images")
    assert written.name == WARMUP_FILE
    assert warmup_batch_sizes_in(written) == list(DEFAULT_WARMUP_BATCH_SIZES)


def test_unreadable_batching_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "batching.txt"
    bad.write_text("allowed_batch_size: 8\n")  # misspelt field: TF Serving refuses it too
    with pytest.raises(WarmupError, match="--warmup-batching-parameters"):
        warmup_batch_sizes(bad)
    with pytest.raises(WarmupError):
        warmup_batch_sizes(tmp_path / "missing.txt")
