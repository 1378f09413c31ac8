"""TF Serving's own test cases for its load path, transcribed onto the stand-in.

Each test names the C++ (or Python) test it comes from, at tensorflow/serving 9d981c5c; the
rules and their sources are tabled in docs/tf-serving-load-rules.md. Where a TF Serving test
uses CreateBasicBatchingSession, the case is transcribed onto the path tensorflow_model_server
takes (WrapSessionForBatching), as the model server would judge it.
"""

from __future__ import annotations

import argparse
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from inception_svm_serving._exceptions import (
    ConfigError,
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
    Unimplemented,
)
from inception_svm_serving.config.flags import (
    NO_EFFECT_FLAGS,
    UNSUPPORTED_VALUES,
    add_server_flags,
    options_from_args,
)
from inception_svm_serving.config.options import (
    BatchingOptions,
    VersionPolicy,
    load_batching_parameters,
    load_model_config_file,
)
from inception_svm_serving.core.batching import BatchScheduler, check_batching_for_load
from inception_svm_serving.core.model_manager import ModelManager, version_directories
from inception_svm_serving.core.runtime import LoadedSignature, LoadedTensor
from inception_svm_serving.core.warmup import MAX_WARMUP_RECORDS, WARMUP_FILE, run_warmup
from inception_svm_serving.observability.metrics import ServerMetrics
from tests.paths import SERVING_DIR

# -- bundle_factory_util_test.cc / batching_session_test.cc (model-server path) ------------


def test_shipped_batching_files_satisfy_the_model_servers_rule() -> None:
    """WrapSessionForBatching: the last allowed size equals max_batch_size, splitting or not."""
    for name in ("batching_parameters.txt", "batching_parameters_gpu.txt"):
        options = load_batching_parameters(SERVING_DIR / name)
        assert options.allowed_batch_sizes[-1] == options.max_batch_size, name
        check_batching_for_load(options)


def test_WrapSessionForBatching() -> None:
    check_batching_for_load(BatchingOptions(max_batch_size=2, max_enqueued_batches=2**31 - 1))


def test_WrapSessionForBatchingConfigError() -> None:
    options = BatchingOptions(max_batch_size=2, allowed_batch_sizes=(1, 3))
    with pytest.raises(InvalidArgument) as raised:
        check_batching_for_load(options)
    assert raised.value.message == (
        "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 3; expected 2"
    )


@pytest.mark.parametrize("splitting", [False, True], ids=["no_split", "split"])
@pytest.mark.parametrize(
    ("allowed", "message"),
    [
        pytest.param(
            (4, 2), "last entry was 2; expected 4", id="UnsortedAllowedBatchSizesRejected"
        ),
        pytest.param(
            (2, 8),
            "last entry was 8; expected 4",
            id="FinalAllowedBatchSizeLargerThanMaxBatchSizeRejected",
        ),
    ],
)
def test_batching_session_cases_on_the_model_server_path(
    allowed: tuple[int, ...], message: str, splitting: bool
) -> None:
    options = BatchingOptions(
        max_batch_size=4, allowed_batch_sizes=allowed, enable_large_batch_splitting=splitting
    )
    with pytest.raises(InvalidArgument, match=message):
        check_batching_for_load(options)


def test_model_server_path_takes_what_basic_batching_session_refuses() -> None:
    # Not sorted, and last != max_execution_batch_size: both fine for WrapSessionForBatching.
    check_batching_for_load(BatchingOptions(max_batch_size=4, allowed_batch_sizes=(4, 2, 4)))
    check_batching_for_load(
        BatchingOptions(
            max_batch_size=64,
            enable_large_batch_splitting=True,
            max_execution_batch_size=8,
            allowed_batch_sizes=(1, 2, 4, 8, 64),
        )
    )
    with pytest.raises(InvalidArgument, match="last entry was 8; expected 64"):
        check_batching_for_load(  # the shipped CPU file before the fix
            BatchingOptions(
                max_batch_size=64,
                enable_large_batch_splitting=True,
                max_execution_batch_size=8,
                allowed_batch_sizes=(1, 2, 4, 8),
            )
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (BatchingOptions(max_batch_size=0), "input_batch_size_limit must be positive; was 0"),
        (
            BatchingOptions(batch_timeout_micros=-1),
            "batch_timeout_micros must be non-negative; was -1",
        ),
        (
            BatchingOptions(max_enqueued_batches=0, enable_large_batch_splitting=True),
            "max_enqueued_batches must be positive; was 0",
        ),
        (
            BatchingOptions(
                max_batch_size=4, enable_large_batch_splitting=True, max_execution_batch_size=10
            ),
            "greater than or equal to max_execution_batch_size.1410",
        ),
    ],
    ids=["zero_max_batch_size", "negative_timeout", "zero_queue_split", "exec_over_max"],
)
def test_shared_batch_scheduler_add_queue_checks(options: BatchingOptions, message: str) -> None:
    """TF shared_batch_scheduler.h AddQueue, as reached from WrapSessionForBatching."""
    with pytest.raises(InvalidArgument, match=message):
        check_batching_for_load(options)


def test_max_enqueued_batches_zero_without_splitting_becomes_one() -> None:
    check_batching_for_load(BatchingOptions(max_enqueued_batches=0))
    scheduler = BatchScheduler(BatchingOptions(max_enqueued_batches=0), _echo)
    try:
        assert scheduler.submit({"x": np.ones((2, 1), np.float32)})["y"].shape == (2, 1)
    finally:
        scheduler.close()


def test_num_batch_threads_zero_fails_at_start() -> None:
    """SharedBatchScheduler::Create, at ServerCore::CreateAdapters: before any load."""
    with pytest.raises(ConfigError, match="num_batch_threads must be positive; was 0"):
        BatchingOptions(num_batch_threads=0)


def _echo(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"y": np.asarray(inputs["x"])}


class _Padding:
    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []

    def batch_processed(self, batch_size: int, padded_size: int) -> None:
        self.batches.append((batch_size, padded_size))

    def task_dequeued(self, queued_seconds: float) -> None:
        pass


def test_AllowedBatchSizesRequirePadding() -> None:
    observer = _Padding()
    options = BatchingOptions(max_batch_size=4, allowed_batch_sizes=(1, 3, 4))
    check_batching_for_load(options)
    scheduler = BatchScheduler(options, _echo, observer)
    try:
        out = scheduler.submit({"x": np.arange(2, dtype=np.float32).reshape(2, 1)})
    finally:
        scheduler.close()
    assert out["y"].shape == (2, 1)  # the padding row is sliced off
    assert observer.batches == [(2, 3)]


def test_BatchingWithLargeBatch() -> None:
    split = BatchScheduler(
        BatchingOptions(
            max_batch_size=3, enable_large_batch_splitting=True, max_execution_batch_size=2
        ),
        _echo,
    )
    whole = BatchScheduler(BatchingOptions(max_batch_size=3), _echo)
    try:
        rows = np.arange(3, dtype=np.float32).reshape(3, 1)
        assert np.array_equal(split.submit({"x": rows})["y"], rows)
        with pytest.raises(
            InvalidArgument, match="Task size 4 is larger than maximum input batch size 3"
        ):
            whole.submit({"x": np.zeros((4, 1), np.float32)})
    finally:
        split.close()
        whole.close()


def _manager(batching: BatchingOptions | None, per_model: bool) -> ModelManager:
    return ModelManager((), batching, ServerMetrics(), per_model_batching=per_model)


def test_GetPerModelBatchingParams(tmp_path: Path) -> None:
    common = BatchingOptions(max_batch_size=16, allowed_batch_sizes=(8, 16), num_batch_threads=3)
    (tmp_path / "batching_params.pbtxt").write_text(
        "max_batch_size { value: 128 }\n"
        "allowed_batch_sizes: 8\nallowed_batch_sizes: 16\nallowed_batch_sizes: 128\n"
    )
    missing = tmp_path / "does" / "not" / "exists"
    assert _manager(common, False)._batching_for(missing) == common
    assert _manager(common, True)._batching_for(missing) is None  # served without batching
    assert _manager(common, False)._batching_for(tmp_path) == common
    params = _manager(common, True)._batching_for(tmp_path)
    assert params is not None
    assert (params.max_batch_size, params.allowed_batch_sizes) == (128, (8, 16, 128))
    assert params.num_batch_threads == 3  # the shared scheduler's, from the global file
    (tmp_path / "batching_params.pbtxt").write_text("max_batch_sise { value: 1 }\n")
    with pytest.raises(InvalidArgument, match=r"Invalid protobuf file: '.*batching_params\.pbtxt'"):
        _manager(common, True)._batching_for(tmp_path)


# -- saved_model_warmup_util_test.cc / saved_model_warmup_test.cc -------------------------

_SIGNATURES = {
    "serving_default": LoadedSignature(
        "serving_default",
        {"x": LoadedTensor("x", np.dtype(np.float32), "float32", (None, 1))},
        {"y": LoadedTensor("y", np.dtype(np.float32), "float32", (None, 1))},
    )
}


class _Executor:
    """Counts Session::Run calls as the TF tests' mock does; optionally fails them."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error
        self.lock = threading.Lock()

    def __call__(self, signature: str, inputs: Mapping[str, np.ndarray]) -> object:
        with self.lock:
            self.calls += 1
        if self.error is not None:
            raise self.error
        return _echo(inputs)


def _predict_log() -> prediction_log_pb2.PredictionLog:
    request = predict_pb2.PredictRequest()
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((1, 1), np.float32)))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )


def _write(version_dir: Path, records: list[bytes]) -> Path:
    path = version_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def test_NoWarmupDataFile(tmp_path: Path) -> None:
    (tmp_path / "assets.extra").mkdir()
    run = _Executor()
    assert run_warmup(tmp_path, _SIGNATURES, run, 1) == 0 and run.calls == 0


def test_WarmupDataFileEmpty(tmp_path: Path) -> None:
    _write(tmp_path, [])
    run = _Executor()
    assert run_warmup(tmp_path, _SIGNATURES, run, 1) == 0 and run.calls == 0


def test_UnsupportedFileFormat(tmp_path: Path) -> None:
    path = tmp_path / WARMUP_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(_predict_log().SerializeToString() for _ in range(10)))
    with pytest.raises(DataLoss, match="Please verify your warmup data is in TFRecord format"):
        run_warmup(tmp_path, _SIGNATURES, _Executor(), 1)


def test_TooManyWarmupRecords(tmp_path: Path) -> None:
    _write(tmp_path, [_predict_log().SerializeToString()] * (MAX_WARMUP_RECORDS + 1))
    run = _Executor()
    with pytest.raises(
        InvalidArgument, match=r"Number of warmup records exceeds the maximum \(1000\)"
    ):
        run_warmup(tmp_path, _SIGNATURES, run, 1)
    assert run.calls == MAX_WARMUP_RECORDS + 1  # the 1001st is run, then refused


def test_exactly_the_maximum_number_of_records_loads(tmp_path: Path) -> None:
    _write(tmp_path, [prediction_log_pb2.PredictionLog().SerializeToString()] * MAX_WARMUP_RECORDS)
    assert run_warmup(tmp_path, _SIGNATURES, _Executor(), 1) == MAX_WARMUP_RECORDS


def test_UnparsableRecord(tmp_path: Path) -> None:
    _write(tmp_path, [b"malformed_record"] * 10)
    with pytest.raises(InvalidArgument, match="Failed to parse warmup record"):
        run_warmup(tmp_path, _SIGNATURES, _Executor(), 1)


@pytest.mark.parametrize("iterations", [1, 2], ids=["iterations_unset", "iterations_2"])
def test_RunSuccess_and_MixedWarmupData_iterations(tmp_path: Path, iterations: int) -> None:
    unset = prediction_log_pb2.PredictionLog().SerializeToString()  # log_type unset: skipped
    _write(tmp_path, [_predict_log().SerializeToString()] * 5 + [unset])
    run = _Executor()
    assert run_warmup(tmp_path, _SIGNATURES, run, iterations) == 6
    assert run.calls == 5 * iterations


def test_RunFailure(tmp_path: Path) -> None:
    _write(tmp_path, [_predict_log().SerializeToString()])
    with pytest.raises(InvalidArgument, match="Run failed"):
        run_warmup(tmp_path, _SIGNATURES, _Executor(InvalidArgument("Run failed")), 1)


@pytest.mark.parametrize(
    ("log", "number"),
    [
        (prediction_log_pb2.PredictionLog(session_run_log=prediction_log_pb2.SessionRunLog()), 5),
        (
            prediction_log_pb2.PredictionLog(
                predict_streamed_log=prediction_log_pb2.PredictStreamedLog()
            ),
            7,
        ),
    ],
    ids=["UnsupportedLogType_SessionRun", "UnsupportedLogType_PredictStreamed"],
)
def test_unsupported_log_types(
    tmp_path: Path, log: prediction_log_pb2.PredictionLog, number: int
) -> None:
    _write(tmp_path, [log.SerializeToString()] * 10)
    with pytest.raises(Unimplemented, match=f"Unsupported log_type for warmup: {number}$"):
        run_warmup(tmp_path, _SIGNATURES, _Executor(), 1)


def test_warmup_with_an_unknown_signature_fails_like_predict(tmp_path: Path) -> None:
    log = _predict_log()
    log.predict_log.request.model_spec.signature_name = "nope"
    _write(tmp_path, [log.SerializeToString()])
    with pytest.raises(FailedPrecondition, match=r'Serving signature key "nope" not found\.'):
        run_warmup(tmp_path, _SIGNATURES, _Executor(), 1)


# -- server_core_test.cc (config) -----------------------------------------------------------

_MODEL = 'config {{ name: "{name}" base_path: "{path}" {extra} }}'


def _config(tmp_path: Path, *models: str) -> Path:
    path = tmp_path / "models.config"
    path.write_text("model_config_list {\n" + "\n".join(models) + "\n}\n")
    return path


def _model(
    name: str = "m", path: str = "/models/m", extra: str = 'model_platform: "tensorflow"'
) -> str:
    return _MODEL.format(name=name, path=path, extra=extra)


@pytest.mark.parametrize(
    ("models", "message"),
    [
        pytest.param(
            [_model(), _model()],
            "Illegal to list model m multiple times",
            id="DuplicateModelNameInConfig",
        ),
        pytest.param(
            [_model(path="relative/m")],
            "Expected model m to have an absolute path or URI; got base_path\\(\\)=relative/m",
            id="RelativePathFails",
        ),
        pytest.param(
            [_model("a"), _model("b", path="relative/b")],
            "Expected model b to have an absolute path",
            id="MixedAbsoluteRelativeFails",
        ),
        pytest.param(
            [_model(path="")], "got base_path\\(\\)=$", id="AbsolutePathWithEmptyPathFails"
        ),
        pytest.param(
            [_model(extra='model_type: TENSORFLOW model_platform: "tensorflow"')],
            "Illegal setting both",
            id="IllegalConfigModelTypeAndPlatformSet",
        ),
        pytest.param(
            [_model(extra='model_platform: "not_a_known_platform"')],
            "Model m requests unsupported platform not_a_known_platform",
            id="UnknownModelPlatform",
        ),
        pytest.param(
            [_model(extra="")],
            "Illegal setting neither ModelServerConfig::model_type",
            id="platform_omitted",
        ),
    ],
)
def test_server_core_config_errors(tmp_path: Path, models: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_model_config_file(_config(tmp_path, *models))


def test_AbsolutePathSucceeds_and_DeprecatedModelTypeConfig(tmp_path: Path) -> None:
    (model,) = load_model_config_file(_config(tmp_path, _model(extra="model_type: TENSORFLOW")))
    assert model.name == "m"
    (model,) = load_model_config_file(_config(tmp_path, _model(path="gs://bucket/m")))
    assert str(model.base_path).startswith("gs:")


def test_empty_config_serves_no_model(tmp_path: Path) -> None:
    """server_core.cc ReloadConfig: "Taking no action for empty config."."""
    empty = tmp_path / "empty.config"
    empty.write_text("")
    assert load_model_config_file(empty) == ()


def test_bad_text_proto_names_the_file(tmp_path: Path) -> None:
    """tensorflow_model_server_test.py testBadModelConfig."""
    bad = tmp_path / "bad_model_config.txt"
    bad.write_text("improperly formatted file")
    with pytest.raises(ConfigError, match=r"Invalid protobuf file: '.*bad_model_config\.txt'"):
        load_model_config_file(bad)


_LABELLED = _model(extra='model_platform: "tensorflow" version_labels { key: "A" value: 1 }')


def test_AssignLabelToUnavailableVersion_at_startup(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match="FAILED_PRECONDITION: Request to assign label to version 1 of model m, "
        "which is not currently available for inference",
    ):
        load_model_config_file(_config(tmp_path, _LABELLED), at_startup_without_label_flag=True)


def test_AssignLabelToUnavailableVersionAllowed(tmp_path: Path) -> None:
    (model,) = load_model_config_file(_config(tmp_path, _LABELLED))
    assert model.version_labels == (("A", 1),)


def test_shipped_canary_config_needs_and_gets_the_label_flag() -> None:
    args = (SERVING_DIR / "tensorflow_model_server.args").read_text().split()
    assert "--allow_version_labels_for_unavailable_models=true" in args
    with pytest.raises(ConfigError, match="not currently available for inference"):
        load_model_config_file(
            SERVING_DIR / "models.canary.config", at_startup_without_label_flag=True
        )


# -- main.cc flags, server.cc BuildAndStart -------------------------------------------------

# Every flag of tensorflow_serving/model_servers/main.cc, with a value it takes by default.
MAIN_CC_FLAGS = {
    "port": "8500",
    "grpc_socket_path": "",
    "rest_api_port": "0",
    "rest_api_num_threads": "8",
    "rest_api_timeout_in_ms": "30000",
    "rest_api_enable_cors_support": "false",
    "enable_batching": "false",
    "allow_version_labels_for_unavailable_models": "false",
    "batching_parameters_file": None,
    "enable_per_model_batching_parameters": "false",
    "model_config_file": None,
    "model_config_file_poll_wait_seconds": "0",
    "model_name": "default",
    "model_base_path": "/models/m",
    "num_load_threads": "0",
    "num_unload_threads": "0",
    "max_num_load_retries": "5",
    "load_retry_interval_micros": "60000000",
    "file_system_poll_wait_seconds": "1",
    "flush_filesystem_caches": "true",
    "tensorflow_session_parallelism": "0",
    "tensorflow_session_config_file": None,
    "tensorflow_intra_op_parallelism": "0",
    "tensorflow_inter_op_parallelism": "0",
    "use_alts_credentials": "false",
    "ssl_config_file": None,
    "platform_config_file": None,
    "per_process_gpu_memory_fraction": "0",
    "saved_model_tags": "serve",
    "grpc_channel_arguments": "",
    "grpc_max_threads": "8",
    "enable_model_warmup": "true",
    "num_request_iterations_for_warmup": "0",
    "version": "false",
    "monitoring_config_file": None,
    "remove_unused_fields_from_bundle_metagraph": "true",
    "prefer_tflite_model": "false",
    "num_tflite_pools": "2",
    "num_tflite_interpreters_per_pool": "1",
    "enable_signature_method_name_check": "false",
    "xla_cpu_compilation_enabled": "false",
    "xla_gpu_compilation_enabled": "false",
    "enable_profiler": "true",
    "thread_pool_factory_config_file": None,
    "mixed_precision": "",
    "skip_initialize_tpu": "false",
    "enable_grpc_healthcheck_service": "false",
    "enable_serialization_as_tensor_content": "false",
}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(allow_abbrev=False, exit_on_error=False)
    add_server_flags(parser)
    return parser.parse_args(argv)


def test_main_cc_has_48_flags_and_the_stand_in_takes_each() -> None:
    assert len(MAIN_CC_FLAGS) == 48
    for name, value in MAIN_CC_FLAGS.items():
        if value is not None:
            _parse([f"--{name}={value}"])  # argparse would exit 2 on an unknown flag
        else:
            assert f"--{name}" in _parse([]).__dict__ or hasattr(_parse([]), name), name
    taken = set(vars(_parse([])))
    assert set(MAIN_CC_FLAGS) <= taken
    assert set(NO_EFFECT_FLAGS) | set(UNSUPPORTED_VALUES) <= set(MAIN_CC_FLAGS)


def test_every_default_value_starts_like_tensorflow_model_server() -> None:
    argv = [f"--{n}={v}" for n, v in MAIN_CC_FLAGS.items() if v not in (None, "")]
    options = options_from_args(_parse(argv))
    assert options.model_config_file_poll_wait_seconds == 0 and options.models[0].name == "default"


def test_model_config_file_poll_wait_seconds_is_taken(tmp_path: Path) -> None:
    args = _parse(
        [
            f"--model_config_file={_config(tmp_path, _model())}",
            "--model_config_file_poll_wait_seconds=5",
        ]
    )
    assert options_from_args(args).model_config_file_poll_wait_seconds == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--port=0", "--model_base_path=/m"],
            "At least one of server_options.grpc_port or server_options.grpc_socket_path "
            "must be set.",
        ),
        (
            ["--use_alts_credentials=true", "--ssl_config_file=/x", "--model_base_path=/m"],
            "Either use_alts_credentials must be false or ssl_config_file must be empty.",
        ),
        ([], "Both server_options.model_base_path and server_options.model_config_file are empty!"),
        (
            ["--model_base_path=/m", "--batching_parameters_file=/b"],
            "batching_parameters_file is set without setting "
            "server_options.enable_batching to true.",
        ),
        (
            [
                "--model_base_path=/m",
                "--tensorflow_session_parallelism=2",
                "--tensorflow_intra_op_parallelism=2",
                "--tensorflow_inter_op_parallelism=2",
            ],
            "You cannot configure all.",
        ),
    ],
    ids=[
        "no_listener",
        "alts_and_ssl",
        "no_model_source",
        "batching_file_without_batching",
        "parallelism_all_three",
    ],
)
def test_build_and_start_checks(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        options_from_args(_parse(argv))
    assert message in str(raised.value)


def test_session_parallelism_feeds_both_pools() -> None:
    options = options_from_args(
        _parse(["--model_base_path=/m", "--tensorflow_session_parallelism=3"])
    )
    assert (options.session.intra_op_parallelism, options.session.inter_op_parallelism) == (3, 3)
    options = options_from_args(
        _parse(
            [
                "--model_base_path=/m",
                "--tensorflow_session_parallelism=3",
                "--tensorflow_intra_op_parallelism=2",
            ]
        )
    )
    assert (options.session.intra_op_parallelism, options.session.inter_op_parallelism) == (2, 0)


# -- file_system_storage_path_source_test.cc --------------------------------------------------


def _versions(base: Path, names: list[str], policy: VersionPolicy) -> list[tuple[int, str]]:
    for name in names:
        (base / name).mkdir(parents=True)
    found = version_directories(base) or {}
    return [(v, found[v].name) for v in policy.select(sorted(found))]


@pytest.mark.parametrize(
    ("names", "policy", "expected"),
    [
        pytest.param(
            ["non_numerical_child", "42", "17"],
            VersionPolicy(),
            [(42, "42")],
            id="MultipleVersions",
        ),
        pytest.param(
            ["non_numerical_child", "42", "17"],
            VersionPolicy(kind="all"),
            [(17, "17"), (42, "42")],
            id="MultipleVersionsAtTheSameTime",
        ),
        pytest.param(
            ["non_numerical_child", "42", "33", "30", "21", "17"],
            VersionPolicy(num_versions=3),
            [(30, "30"), (33, "33"), (42, "42")],
            id="NLatestVersions",
        ),
        pytest.param(
            ["non_numerical_child", "42", "33", "30", "21", "17"],
            VersionPolicy(kind="specific", versions=(17, 30)),
            [(17, "17"), (30, "30")],
            id="SpecificVersions",
        ),
        pytest.param(
            ["non_numerical_child", "42", "33", "30", "21", "00017"],
            VersionPolicy(kind="specific", versions=(17, 30)),
            [(17, "00017"), (30, "30")],
            id="SpecificVersionsLeadingZeros",
        ),
        pytest.param(
            ["non_numerical_child", "42", "33", "30"],
            VersionPolicy(),
            [(42, "42")],
            id="DefaultNumLatestVersions",
        ),
        pytest.param(
            ["20170111173521"],
            VersionPolicy(kind="all"),
            [(20170111173521, "20170111173521")],
            id="ParseTimestampedVersion",
        ),
        pytest.param(["non_numerical_child"], VersionPolicy(), [], id="NoVersionsAtStartup"),
    ],
)
def test_version_discovery(
    tmp_path: Path, names: list[str], policy: VersionPolicy, expected: list[tuple[int, str]]
) -> None:
    assert _versions(tmp_path / "base", names, policy) == expected


def test_DuplicateVersions(tmp_path: Path) -> None:
    found = _versions(tmp_path / "base", ["0001", "001", "00001"], VersionPolicy())
    assert [v for v, _ in found] == [1]


def test_missing_base_path_is_not_an_error_but_no_versions(tmp_path: Path) -> None:
    """NoVersionsAtStartup / FilesAppearAfterStartup: the poll finds nothing, then version 3."""
    base = tmp_path / "missing"
    assert version_directories(base) is None
    (base / "3").mkdir(parents=True)
    assert sorted(version_directories(base) or {}) == [3]


# -- stand-in differences, stated in docs/tf-serving-load-rules.md --------------------------


def test_rest_port_equal_to_grpc_port_is_refused() -> None:
    """TF Serving logs it and serves gRPC only; one port cannot carry both here."""
    with pytest.raises(ConfigError, match="cannot be the same as --port"):
        options_from_args(_parse(["--model_base_path=/m", "--port=9000", "--rest_api_port=9000"]))


def test_empty_specific_policy_is_refused_instead_of_waiting_forever(tmp_path: Path) -> None:
    config = _config(
        tmp_path, _model(extra='model_platform: "tensorflow" model_version_policy { specific {} }')
    )
    with pytest.raises(ConfigError, match="specific version policy needs at least one version"):
        load_model_config_file(config)


def test_version_prints_tf_servings_lines_first(capsys: pytest.CaptureFixture[str]) -> None:
    """main.cc: --version prints before any other check (here: no model source given)."""
    from inception_svm_serving.serve_command import main

    assert main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("TensorFlow ModelServer: ")
    assert lines[1] == f"TensorFlow Library: {tf.__version__}"


# -- loader_harness_test.cc / aspired_versions_manager_test.cc ---------------------------------


def test_failed_version_is_not_retried_and_the_previous_keeps_serving(
    model_base_path: Path, tmp_path: Path
) -> None:
    """RetryOnLoadErrorFinallyFails (1 retry: exactly 2 tries, then END with its error, never
    tried again while aspired) and AspireErrorDontUnload (version 1 keeps serving)."""
    from inception_svm_serving.config.options import ModelConfig

    base = tmp_path / "m"
    shutil.copytree(model_base_path / "1", base / "1")
    (base / "2").mkdir()  # not a SavedModel: every load fails
    manager = ModelManager(
        (ModelConfig(name="m", base_path=base, policy=VersionPolicy(kind="all")),),
        None,
        ServerMetrics(),
        max_load_retries=1,
        load_retry_interval_s=0.0,
    )
    try:
        for _ in range(4):
            manager.poll_once()
        statuses = {s.version: s for s in manager.status("m")}
        assert statuses[1].state == "AVAILABLE"
        assert statuses[2].state == "END" and statuses[2].error
        assert manager.startup_failures() == []  # the model serves: the server starts
        with manager.acquire("m") as servable:
            assert servable.version == 1
    finally:
        manager.stop()


def test_startup_failure_names_the_servable_and_cause(tmp_path: Path) -> None:
    """ErroringModel: the one version fails → the failure ServerCore::Create reports."""
    from inception_svm_serving.config.options import ModelConfig
    from inception_svm_serving.server import start_failure_message

    (tmp_path / "m" / "1").mkdir(parents=True)
    manager = ModelManager(
        (ModelConfig(name="m", base_path=tmp_path / "m"),),
        None,
        ServerMetrics(),
        max_load_retries=0,
    )
    manager.poll_once()
    (failure,) = manager.startup_failures()
    assert (failure.model, failure.version) == ("m", 1)
    message = start_failure_message([failure])
    assert message.startswith(
        "Failed to start server. Error: UNKNOWN: 1 servable(s) did not become available: "
        "{{{name: m version: 1} due to error: "
    )
    assert message.endswith("}, }")


def test_config_reload_adds_and_removes_models_and_checks_labels(tmp_path: Path) -> None:
    """ServerCore::ReloadConfig via --model_config_file_poll_wait_seconds: a label on a
    version that is not AVAILABLE is refused (AssignLabelToUnavailableVersion) and leaves
    the config as it was; otherwise models come and go with the file."""
    from inception_svm_serving.config.options import ModelConfig

    a = ModelConfig(name="a", base_path=tmp_path / "a")
    b = ModelConfig(name="b", base_path=tmp_path / "b")
    manager = ModelManager((a,), None, ServerMetrics())
    try:
        labelled = ModelConfig(name="a", base_path=a.base_path, version_labels=(("A", 1),))
        with pytest.raises(FailedPrecondition, match="not currently available for inference"):
            manager.update_models((labelled,), allow_unavailable_labels=False)
        manager.update_models((labelled,), allow_unavailable_labels=True)
        manager.update_models((b,), allow_unavailable_labels=False)
        with (
            pytest.raises(NotFound, match=r"Servable not found for request: Latest\(a\)"),
            manager.acquire("a"),
        ):
            pass
        with pytest.raises(Unavailable), manager.acquire("b"):  # configured, no version yet
            pass
    finally:
        manager.stop()
