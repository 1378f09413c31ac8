"""Image bytes → Inception logits through TF Serving's PredictionService.

Two layers: ``predict`` is one timed Predict call on one batch (what a load tester needs),
and ``featurize`` streams any iterable of images through it: batches of up to N images or
T milliseconds, a bounded number of requests in flight, results in input order, retries
with backoff on transient errors, and bisection of a batch the server rejects so only the
bad images get an error.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import grpc
import numpy as np

from inception_svm_client import wire
from inception_svm_client.channel import create_channel
from inception_svm_client.config import ChannelConfig, FeaturizerConfig
from inception_svm_client.errors import (
    BAD_RESPONSE,
    ClientError,
    SignatureMismatchError,
    from_rpc_error,
)
from inception_svm_client.inputs import ImageInput
from inception_svm_client.protos.messages import GET_MODEL_METADATA_METHOD, PREDICT_METHOD

RETRYABLE_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"})
# The server refused the batch's content: splitting finds the image(s) responsible.
SPLITTABLE_CODES = frozenset({"INVALID_ARGUMENT"})
_POLL_S = 0.05


@dataclass(frozen=True)
class FeatureResult:
    """Features of one input, or the reason it has none."""

    key: str
    features: np.ndarray | None
    error: str | None = None


@dataclass(frozen=True)
class BatchResponse:
    """Logits of one Predict call plus where the client-side time went."""

    features: np.ndarray
    encode_s: float
    rpc_s: float
    decode_s: float


def is_oversize(error: ClientError) -> bool:
    return error.code == "RESOURCE_EXHAUSTED" and "larger than max" in error.details


def should_split(error: ClientError) -> bool:
    return error.code in SPLITTABLE_CODES or is_oversize(error)


def should_retry(error: ClientError) -> bool:
    return error.code in RETRYABLE_CODES and not is_oversize(error)


def check_signature(signature: wire.Signature, config: FeaturizerConfig) -> int:
    """The served signature must take encoded images and return logits [-1, D]; returns D."""
    spec = config.signature
    where = (
        f"model {signature.model_name!r} version {signature.model_version} "
        f"signature {signature.signature_name!r}"
    )
    image_input = signature.inputs.get(spec.input_name)
    if image_input is None:
        raise SignatureMismatchError(
            f"{where} has no input {spec.input_name!r} (inputs: {sorted(signature.inputs)})"
        )
    if image_input.dtype != wire.DT_STRING:
        raise SignatureMismatchError(
            f"{where} input {spec.input_name!r} is {image_input.describe()}, "
            "expected DT_STRING (encoded image bytes)"
        )
    logits = signature.outputs.get(spec.output_name)
    if logits is None:
        raise SignatureMismatchError(
            f"{where} has no output {spec.output_name!r} (outputs: {sorted(signature.outputs)})"
        )
    shape = logits.shape
    if logits.dtype != wire.DT_FLOAT or shape is None or len(shape) != 2 or shape[1] < 1:
        raise SignatureMismatchError(
            f"{where} output {spec.output_name!r} is {logits.describe()}, expected DT_FLOAT [-1, D]"
        )
    return shape[1]


class Featurizer:
    """A client of one served model; thread-safe, reusable across many ``featurize`` calls."""

    def __init__(
        self,
        channel: grpc.Channel,
        config: FeaturizerConfig | None = None,
        *,
        expected_feature_dim: int | None = None,
        owns_channel: bool = False,
    ) -> None:
        self.config = config or FeaturizerConfig()
        self._expected_feature_dim = expected_feature_dim
        self._channel = channel
        self._owns_channel = owns_channel
        self._predict: Any = channel.unary_unary(PREDICT_METHOD)
        self._metadata: Any = channel.unary_unary(GET_MODEL_METADATA_METHOD)
        self._signature: wire.Signature | None = None
        self._lock = threading.Lock()
        self._random = random.Random()

    @classmethod
    def connect(
        cls,
        channel_config: ChannelConfig,
        config: FeaturizerConfig | None = None,
        *,
        expected_feature_dim: int | None = None,
    ) -> Self:
        channel = create_channel(channel_config)
        return cls(channel, config, expected_feature_dim=expected_feature_dim, owns_channel=True)

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- signature ---------------------------------------------------------------------

    def signature(self) -> wire.Signature:
        """GetModelMetadata, checked against the expected feature dimension (cached)."""
        with self._lock:
            if self._signature is None:
                request = wire.encode_metadata_request(self.config.signature)
                data = self._with_retry(lambda: self._call(self._metadata, request, "metadata"))
                try:
                    signature = wire.decode_metadata_response(
                        data, self.config.signature.signature_name
                    )
                except ValueError as error:
                    raise SignatureMismatchError(str(error)) from error
                dim = check_signature(signature, self.config)
                expected = self._expected_feature_dim
                if expected is not None and dim != expected:
                    raise SignatureMismatchError(
                        f"model {signature.model_name!r} version {signature.model_version} "
                        f"outputs {self.config.signature.output_name!r} with {dim} features "
                        f"but the SVM expects {expected}"
                    )
                self._signature = signature
            return self._signature

    # -- one call ----------------------------------------------------------------------

    def _call(self, method: Any, request: bytes, what: str) -> bytes:
        try:
            response: bytes = method(request, timeout=self.config.deadline_s)
        except grpc.RpcError as error:
            raise from_rpc_error(error, f"{what} on {self.config.signature.model_name!r}") from None
        return response

    def _with_retry(self, attempt: Any) -> Any:
        policy = self.config.retry
        for number in range(policy.max_attempts):
            try:
                return attempt()
            except ClientError as error:
                if not should_retry(error) or number + 1 == policy.max_attempts:
                    raise
                cap = min(policy.max_backoff_s, policy.initial_backoff_s * 2**number)
                time.sleep(self._random.uniform(0, cap))
        raise AssertionError("unreachable")  # pragma: no cover

    def predict(self, images: Sequence[bytes]) -> BatchResponse:
        """One Predict call (no retry) with client-side timing; raises ClientError."""
        started = time.perf_counter()
        request = wire.encode_predict_request(self.config.signature, images)
        encoded = time.perf_counter()
        data = self._call(self._predict, request, "Predict")
        answered = time.perf_counter()
        try:
            features = self.decode_features(data, len(images))
        except ValueError as error:
            raise ClientError(BAD_RESPONSE, str(error)) from error
        return BatchResponse(
            features=features,
            encode_s=encoded - started,
            rpc_s=answered - encoded,
            decode_s=time.perf_counter() - answered,
        )

    def decode_features(self, data: bytes, batch_size: int) -> np.ndarray:
        """One row per image from a Predict response; a subclass may return richer rows
        (``ImagenetClient``) and still reuse batching, retries and bisection."""
        return wire.decode_logits(data, self.config.signature.output_name, batch_size)

    def predict_with_retry(self, images: Sequence[bytes]) -> BatchResponse:
        response: BatchResponse = self._with_retry(lambda: self.predict(images))
        return response

    def _features_or_errors(self, images: Sequence[bytes]) -> list[np.ndarray | str]:
        """Bisect a rejected batch: the good halves still get features."""
        if not images:
            return []
        try:
            return list(self.predict_with_retry(images).features)
        except ClientError as error:
            if not should_split(error):
                raise
            if len(images) == 1:
                return [error.details]
            middle = len(images) // 2
            head = self._features_or_errors(images[:middle])
            return head + self._features_or_errors(images[middle:])

    def _resolve_batch(self, batch: Sequence[ImageInput]) -> list[FeatureResult]:
        readable = [item.data for item in batch if item.data is not None]
        outcomes = iter(self._features_or_errors(readable))
        results = []
        for item in batch:
            if item.data is None:
                results.append(FeatureResult(item.key, None, item.error or "no data"))
                continue
            outcome = next(outcomes)
            if isinstance(outcome, str):
                results.append(FeatureResult(item.key, None, outcome))
            else:
                results.append(FeatureResult(item.key, outcome))
        return results

    # -- streaming ---------------------------------------------------------------------

    def featurize(self, inputs: Iterable[ImageInput]) -> Iterator[FeatureResult]:
        """Stream results in input order; raises ClientError on non-recoverable errors."""
        self.signature()
        pending: deque[Future[list[FeatureResult]]] = deque()
        max_in_flight = self.config.max_in_flight
        with ThreadPoolExecutor(max_in_flight, thread_name_prefix="featurize") as pool:
            try:
                for batch in _batches(inputs, self.config.batch_size, self.config.batch_timeout_ms):
                    if batch:
                        pending.append(pool.submit(self._resolve_batch, batch))
                    while pending and (len(pending) >= max_in_flight or pending[0].done()):
                        yield from pending.popleft().result()
                while pending:
                    yield from pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()


class _End:
    pass


@dataclass(frozen=True)
class _Failure:
    error: BaseException


def _batches(
    inputs: Iterable[ImageInput], batch_size: int, batch_timeout_ms: float
) -> Iterator[list[ImageInput]]:
    """Group a (possibly slow) stream into batches of ``batch_size`` or ``batch_timeout_ms``.

    The iterable is read on a thread so a slow source (stdin, a socket) cannot stall the
    timer. Empty lists are yielded as ticks while waiting so the caller can hand out
    finished results meanwhile.
    """
    items: queue.Queue[ImageInput | _End | _Failure] = queue.Queue(maxsize=4 * batch_size)
    stop = threading.Event()

    def put(item: ImageInput | _End | _Failure) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in inputs:
                if not put(item):
                    return
            put(_End())
        except BaseException as error:  # re-raised in the consuming thread
            put(_Failure(error))

    threading.Thread(target=produce, name="featurize-reader", daemon=True).start()
    batch: list[ImageInput] = []
    batch_deadline = 0.0
    try:
        while True:
            wait = max(0.0, batch_deadline - time.monotonic()) if batch else _POLL_S
            try:
                item = items.get(timeout=wait)
            except queue.Empty:
                yield batch
                batch = []
                continue
            if isinstance(item, _End):
                if batch:
                    yield batch
                return
            if isinstance(item, _Failure):
                raise item.error
            batch.append(item)
            if len(batch) == 1:
                batch_deadline = time.monotonic() + batch_timeout_ms / 1000
            if len(batch) >= batch_size:
                yield batch
                batch = []
    finally:
        stop.set()
