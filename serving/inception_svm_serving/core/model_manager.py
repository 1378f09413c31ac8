"""Which versions of which models are loaded, and swapping them without failing requests.

Availability-preserving like TF Serving's AspiredVersionsManager: a new version is loaded and
warmed up before it is published; only then is the old one unpublished, and it is unloaded once
the requests already holding it have finished. Requests hold a servable through ``acquire``,
whose resolve-and-count step happens under the same lock as publishing, so a request can never
get a servable that is being torn down.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import gc
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inception_svm_serving._exceptions import (
    ConfigError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ServingError,
    Unavailable,
)
from inception_svm_serving.config.options import (
    BatchingOptions,
    ModelConfig,
    SessionOptions,
    load_batching_parameters,
)
from inception_svm_serving.core.batching import BatchScheduler, check_batching_for_load
from inception_svm_serving.core.runtime import LoadedModel, session_config
from inception_svm_serving.core.warmup import run_warmup
from inception_svm_serving.observability.logs import log_event
from inception_svm_serving.observability.metrics import ServerMetrics

_UNLOAD_DRAIN_TIMEOUT_S = 60.0
PER_MODEL_BATCHING_FILE = "batching_params.pbtxt"


@dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str  # START | LOADING | AVAILABLE | UNLOADING | END (TF Serving's ManagerState)
    error: str = ""


class Servable:
    """A loaded version plus its batch queues; counts the requests currently using it."""

    def __init__(
        self, model: LoadedModel, batching: BatchingOptions | None, metrics: ServerMetrics
    ) -> None:
        self.model = model
        self._inflight = 0
        self._idle = threading.Condition()
        self._schedulers: dict[str, BatchScheduler] = {}
        if batching is not None:
            check_batching_for_load(batching)  # before any thread starts, as TF Serving does
            for signature in model.signatures:
                self._schedulers[signature] = BatchScheduler(
                    batching,
                    functools.partial(model.run, signature),
                    metrics.batch_observer(model.name, signature),
                    name=f"{model.name}-v{model.version}-{signature}",
                )

    @property
    def version(self) -> int:
        return self.model.version

    def execute(self, signature: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        scheduler = self._schedulers.get(signature)
        if scheduler is None:
            return self.model.run(signature, inputs)
        return scheduler.submit(inputs)

    def _enter(self) -> None:
        with self._idle:
            self._inflight += 1

    def _exit(self) -> None:
        with self._idle:
            self._inflight -= 1
            self._idle.notify_all()

    def abort_queued(self, reason: str) -> None:
        for scheduler in self._schedulers.values():
            scheduler.abort(reason)

    def drain_and_close(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout=_UNLOAD_DRAIN_TIMEOUT_S)
        for scheduler in self._schedulers.values():
            scheduler.close()


# Errors that say the process, not the base path, is in trouble: raised to the poll loop,
# which logs them as they are (poll_failed: "Too many open files"), instead of being
# reported as a base path that "does not exist or cannot be listed".
_PROCESS_LIMITS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM})


def version_directories(base_path: Path) -> dict[int, Path] | None:
    """Version number → its directory. Like TF Serving (``ParseVersionNumber`` in
    ``file_system_storage_path_source.cc``) any integer name counts, zero-padded ones such
    as ``00000123`` included, and the model is loaded from the directory as it is named;
    of two names for one number (``7`` and ``007``) the last in name order wins. None when
    ``base_path`` cannot be listed."""
    try:
        entries = sorted(base_path.iterdir())
    except OSError as error:
        if error.errno in _PROCESS_LIMITS:  # the process is out of descriptors, not the path
            raise
        return None
    return {int(p.name): p for p in entries if p.is_dir() and p.name.isdigit()}


def status_text(error: BaseException) -> str:
    """An error as absl prints a Status (``<CODE>: <message>``), the form TF Serving logs and
    puts in "Failed to start server. Error: ..."."""
    if isinstance(error, ServingError):
        return f"{error.code.name}: {error.message}"
    code = getattr(error, "error_code", None)  # tf.errors.OpError, without importing TF
    message = getattr(error, "message", None) or str(error)
    if isinstance(code, int):
        names = {3: "INVALID_ARGUMENT", 5: "NOT_FOUND", 9: "FAILED_PRECONDITION", 15: "DATA_LOSS"}
        return f"{names.get(code, 'UNKNOWN')}: {message}"
    if isinstance(error, OSError):
        return f"NOT_FOUND: {error}"
    return f"UNKNOWN: {type(error).__name__}: {message}"


@dataclass(frozen=True)
class LoadFailure:
    """A version that ended in error (TF Serving: state kEnd with a non-OK health)."""

    model: str
    version: int
    status: str  # "<CODE>: <message>"


@dataclass
class _Retry:
    """A version whose load failed: when it may be tried again, and how many tries are left.
    Kept per version so that one that cannot load never delays another (each poll tries each
    aspired version at most once, without sleeping), and dropped when its directory goes."""

    failures: int
    next_attempt_at: float


class ModelManager:
    def __init__(
        self,
        models: tuple[ModelConfig, ...],
        batching: BatchingOptions | None,
        metrics: ServerMetrics,
        warmup_iterations: int = 1,
        max_load_retries: int = 5,
        load_retry_interval_s: float = 60.0,
        session: SessionOptions | None = None,
        per_model_batching: bool = False,
    ) -> None:
        self._per_model_batching = per_model_batching
        self._configs = {m.name: m for m in models}
        self._session_config = session_config(session or SessionOptions())
        self._batching = batching
        self._metrics = metrics
        self._warmup_iterations = warmup_iterations
        self._max_load_retries = max_load_retries
        self._load_retry_interval_s = load_retry_interval_s
        self._lock = threading.Lock()
        self._reconciling = threading.RLock()
        self._serving: dict[str, dict[int, Servable]] = {m.name: {} for m in models}
        self._status: dict[str, dict[int, VersionStatus]] = {m.name: {} for m in models}
        self._failed: dict[tuple[str, int], str] = {}  # -> status_text of the last error
        self._retries: dict[tuple[str, int], _Retry] = {}
        self._unlistable: set[str] = set()  # models whose base path was reported missing
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def poll_once(self) -> None:
        with self._reconciling:  # the version poller and a config reload, one at a time
            for config in list(self._configs.values()):
                self._reconcile(config)

    def start_polling(self, period_s: float) -> None:
        if period_s <= 0:
            return

        def loop() -> None:
            while not self._stop.wait(period_s):
                try:
                    self.poll_once()
                except Exception as error:  # keep polling; the old version keeps serving
                    log_event("poll_failed", error=repr(error))

        self._poller = threading.Thread(target=loop, name="version-poller", daemon=True)
        self._poller.start()

    def request_stop(self) -> None:
        """Signal-handler safe: ends load-retry waits and polling without joining threads."""
        self._stop.set()

    def stop(self) -> None:
        """Process shutdown: unlike an unload, queued requests are failed, not run."""
        self._stop.set()
        with self._lock:
            servables = [s for versions in self._serving.values() for s in versions.values()]
        for servable in servables:
            servable.abort_queued("server is shutting down")
        if self._poller is not None:
            self._poller.join(timeout=30)

    def all_models_available(self) -> bool:
        with self._lock:
            return all(self._serving[name] for name in self._configs)

    def update_models(
        self, models: tuple[ModelConfig, ...], allow_unavailable_labels: bool
    ) -> None:
        """A re-read --model_config_file (ServerCore::ReloadConfig): models added, removed
        or changed, then one reconciliation. A label may only name a version that is
        AVAILABLE unless ``allow_unavailable_labels`` (UpdateModelVersionLabelMap); on
        FailedPrecondition nothing changes and the old config keeps serving."""
        with self._reconciling:
            self._update_models(models, allow_unavailable_labels)

    def _update_models(
        self, models: tuple[ModelConfig, ...], allow_unavailable_labels: bool
    ) -> None:
        removed: list[tuple[str, Servable]] = []
        with self._lock:
            if not allow_unavailable_labels:
                for model in models:
                    for _label, version in model.version_labels:
                        if version not in self._serving.get(model.name, {}):
                            raise FailedPrecondition(
                                f"Request to assign label to version {version} of model "
                                f"{model.name}, which is not currently available for inference"
                            )
            wanted = {m.name: m for m in models}
            for name in [n for n in self._configs if n not in wanted]:
                removed += [(name, s) for s in self._serving.pop(name).values()]
                del self._status[name]
            for name in wanted:
                self._serving.setdefault(name, {})
                self._status.setdefault(name, {})
            self._configs = wanted
        for name, servable in removed:
            self._unload(name, servable)
        self.poll_once()

    def startup_failures(self) -> list[LoadFailure]:
        """The models the server cannot start with: no version AVAILABLE and the newest
        finished version failed. TF Serving's startup wait (load_servables_fast.cc, waiting
        on ServableRequest::Latest per model) ends for a model when any version reaches
        AVAILABLE or END, and main.cc exits if one ended in error."""
        with self._lock:
            serving = {name for name, versions in self._serving.items() if versions}
            failed = sorted(self._failed.items(), key=lambda item: -item[0][1])
        failures: dict[str, LoadFailure] = {}
        for (name, version), status in failed:
            if name not in serving and name not in failures:
                failures[name] = LoadFailure(name, version, status)
        return [failures[name] for name in sorted(failures)]

    def seconds_until_next_retry(self) -> float | None:
        """When the earliest pending load retry is due (None: none pending)."""
        if not self._retries:
            return None
        now = time.monotonic()
        return max(0.0, min(r.next_attempt_at for r in self._retries.values()) - now)

    # -- requests --------------------------------------------------------------------------
    @contextlib.contextmanager
    def acquire(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> Iterator[Servable]:
        with self._lock:
            servable = self._resolve(name, version, label)
            servable._enter()
        try:
            yield servable
        finally:
            servable._exit()

    def status(self, name: str, version: int | None = None) -> list[VersionStatus]:
        with self._lock:
            if name not in self._configs:
                raise NotFound(f"Could not find any versions of model {name}")
            statuses = sorted(self._status[name].values(), key=lambda s: s.version)
        if version is not None:
            statuses = [s for s in statuses if s.version == version]
            if not statuses:
                raise NotFound(f"Could not find version {version} of model {name}")
        if not statuses:
            raise NotFound(f"Could not find any versions of model {name}")
        return statuses

    def _resolve(self, name: str, version: int | None, label: str | None) -> Servable:
        if name not in self._configs:
            raise NotFound(f"Servable not found for request: Latest({name})")
        loaded = self._serving[name]
        if label is not None:
            labels = dict(self._configs[name].version_labels)
            if label not in labels:
                raise NotFound(f"Unrecognized servable version label: {label}")
            version = labels[label]
        if version is None:
            if not loaded:
                raise Unavailable(f"model {name} has no version loaded yet")
            return loaded[max(loaded)]
        if version not in loaded:
            raise NotFound(f"Servable not found for request: Specific({name}, {version})")
        return loaded[version]

    # -- version reconciliation ------------------------------------------------------------
    def _set_status(self, name: str, status: VersionStatus) -> None:
        with self._lock:
            if name in self._status:  # not for a model a config reload removed
                self._status[name][status.version] = status

    def _reconcile(self, config: ModelConfig) -> None:
        directories = version_directories(config.base_path)
        found = None if directories is None else sorted(directories)
        self._report_base_path(config, found)
        on_disk = set(found or ())
        aspired = set(config.policy.select(sorted(on_disk)))
        self._forget_gone(config.name, on_disk)
        with self._lock:
            loaded = set(self._serving[config.name])
        for version in sorted(aspired - loaded, reverse=True):  # the newest first
            key = (config.name, version)
            retry = self._retries.get(key)
            if key in self._failed or (retry and retry.next_attempt_at > time.monotonic()):
                continue
            self._load(config, version)
        with self._lock:
            available = set(self._serving[config.name])
            retire = available - aspired if available & aspired else set()
            retired = [self._serving[config.name].pop(v) for v in sorted(retire)]
        for servable in retired:
            self._unload(config.name, servable)

    def _report_base_path(self, config: ModelConfig, found: list[int] | None) -> None:
        """Name a missing or empty base path in the log once, not on every poll."""
        if found:
            self._unlistable.discard(config.name)
            return
        if config.name in self._unlistable:
            return
        self._unlistable.add(config.name)
        what = "does not exist or cannot be listed" if found is None else "has no version dirs"
        log_event(
            "model_base_path_unusable",
            model=config.name,
            base_path=str(config.base_path),
            detail=f"base path {what}; waiting for a numeric version directory",
        )

    def _forget_gone(self, name: str, on_disk: set[int]) -> None:
        """A version directory that was deleted stops its load retries (and may be retried
        afresh if it comes back)."""
        for key in [k for k in self._retries if k[0] == name and k[1] not in on_disk]:
            del self._retries[key]
            self._set_status(name, VersionStatus(key[1], "END", "version directory removed"))
            log_event("model_load_abandoned", model=name, version=key[1], reason="removed")
        self._failed = {k: v for k, v in self._failed.items() if k[0] != name or k[1] in on_disk}

    def _load(self, config: ModelConfig, version: int) -> None:
        """One load attempt: load, warm up, publish. A failure is retried on a later poll,
        like TF Serving's --max_num_load_retries, so a version directory still being copied
        loads once the copy is complete; after the last retry the version is END with its
        error and is not tried again unless its directory is removed and comes back."""
        name = config.name
        key = (name, version)
        retry = self._retries.get(key)
        self._set_status(name, VersionStatus(version, "LOADING"))
        log_event(
            "model_loading",
            model=name,
            version=version,
            attempt=1 + (retry.failures if retry else 0),
        )
        try:
            servable, warmup_seconds, replayed = self._load_once(config, version)
        except Exception as error:  # a bad export must not take the server down
            status = status_text(error)
            failures = 1 + (retry.failures if retry else 0)
            if failures <= self._max_load_retries:
                self._retries[key] = _Retry(
                    failures, time.monotonic() + self._load_retry_interval_s
                )
                self._set_status(name, VersionStatus(version, "LOADING"))
                log_event(
                    "model_load_retry",
                    model=name,
                    version=version,
                    attempt=failures,
                    retry_in_s=self._load_retry_interval_s,
                    error=status,
                )
                return
            # Like TF Serving (enable_reload_servables_with_error is false in the model
            # server): an errored version is not tried again while it stays aspired; an
            # older version that is serving keeps serving (AvailabilityPreservingPolicy).
            self._retries.pop(key, None)
            self._failed[key] = status
            self._set_status(name, VersionStatus(version, "END", status))
            log_event(
                "model_load_failed",
                model=name,
                version=version,
                attempts=failures,
                error=status,
            )
            return
        self._retries.pop(key, None)
        with self._lock:
            self._serving[name][version] = servable
            self._status[name][version] = VersionStatus(version, "AVAILABLE")
        log_event(
            "model_available",
            model=name,
            version=version,
            load_s=round(servable.model.load_seconds, 3),
            warmup_s=round(warmup_seconds, 3),
            warmup_requests=replayed,
        )

    def _load_once(self, config: ModelConfig, version: int) -> tuple[Servable, float, int]:
        path = (version_directories(config.base_path) or {}).get(
            version, config.base_path / str(version)
        )
        try:
            model = LoadedModel(config.name, version, path, self._session_config)
        except BaseException:
            self._metrics.observe_load(path, None)
            raise
        self._metrics.observe_load(model.path, model.load_seconds)
        servable = Servable(model, self._batching_for(model.path), self._metrics)
        try:
            warmup_seconds, replayed = self._warm_up(servable)
        except BaseException:
            servable.drain_and_close()
            raise
        return servable, warmup_seconds, replayed

    def _batching_for(self, version_dir: Path) -> BatchingOptions | None:
        """GetPerModelBatchingParams (servables/tensorflow/bundle_factory_util.cc): with
        --enable_per_model_batching_parameters, <version dir>/batching_params.pbtxt, and no
        batching for a version without one; the batch threads stay the global file's."""
        if self._batching is None or not self._per_model_batching:
            return self._batching
        path = version_dir / PER_MODEL_BATCHING_FILE
        if not path.exists():
            return None
        try:
            params = load_batching_parameters(path)
        except ConfigError as error:
            raise InvalidArgument(f"Invalid protobuf file: '{path}'") from error
        return dataclasses.replace(params, num_batch_threads=self._batching.num_batch_threads)

    def _warm_up(self, servable: Servable) -> tuple[float, int]:
        """Replay the warmup records through the servable's batch queues (0 iterations:
        --enable_model_warmup=false, the file is not read)."""
        started = time.monotonic()
        if self._warmup_iterations < 1:
            return 0.0, 0
        try:
            records = run_warmup(
                servable.model.path,
                servable.model.signatures,
                servable.execute,
                self._warmup_iterations,
            )
        except BaseException:
            self._metrics.observe_warmup(servable.model.path, time.monotonic() - started, False)
            raise
        seconds = time.monotonic() - started
        self._metrics.observe_warmup(servable.model.path, seconds, True)
        return seconds, records * self._warmup_iterations

    def _unload(self, name: str, servable: Servable) -> None:
        self._set_status(name, VersionStatus(servable.version, "UNLOADING"))
        servable.drain_and_close()
        version = servable.version
        self._set_status(name, VersionStatus(version, "END"))
        del servable
        gc.collect()
        log_event("model_unloaded", model=name, version=version)
