"""Image bytes → Inception logits through TF Serving's PredictionService.

Two layers: ``predict`` is one timed Predict call on one batch (what a load tester needs),
and ``featurize`` streams any iterable of images through it with one outcome per input:
a batcher groups inputs (``batcher``), a pool resolves up to N batches at once
(``resolver``: time-budgeted retries, bisection), and results come back in input order.

When the featurizer is built for an SVM (``svm=``), it refuses a served model or signature
the SVM was not trained on, pins requests to the SVM's model version (unless the spec asks
for ``latest``) and checks the model spec and width of every response, not only the first
(``model_checks``, shared with the asyncio client in ``async_featurizer``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import grpc

from inception_svm_client.exceptions import ClientError, ErrorCode, InterruptedCall, from_rpc_error
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._batcher import batches
from inception_svm_client.grpc._client_base import (
    BatchResponse,
    ModelClientBase,
    check_signature,
    hint_probes,
    not_found_hint,
    pinned_config,
    served_signature,
    timed_response,
)
from inception_svm_client.grpc._pixels import request_parts
from inception_svm_client.grpc._resolver import BatchResolver, FeatureResult, Features, not_sent
from inception_svm_client.grpc._retry import (
    RETRYABLE_CODES,
    RetryBudget,
    call_with_retry,
    is_oversize,
    should_retry,
    should_split,
)
from inception_svm_client.grpc.channel import create_channel
from inception_svm_client.inputs import ImageInput

if TYPE_CHECKING:
    pass

__all__ = [
    "RETRYABLE_CODES",
    "BatchResponse",
    "FeatureResult",
    "Featurizer",
    "check_signature",
    "is_oversize",
    "pinned_config",
    "should_retry",
    "should_split",
]

# After an interrupt, a request already on the wire gets this long to come back before it
# is cancelled: long enough for a healthy server to answer, short enough for Ctrl-C.
INTERRUPT_GRACE_S = 5.0
_POLL_S = 0.1


class Featurizer(ModelClientBase):
    """A client of one served model; thread-safe, reusable across many ``featurize`` calls.

    ``svm``: the metadata of the SVM the features are for; see the module docstring."""

    _open_channel = staticmethod(create_channel)
    _lock_type = threading.Lock

    @property
    def channel(self) -> grpc.Channel:
        """The channel it calls on, for other signatures of the same server."""
        return self._channel

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

    def fetch_signature(self, stop: threading.Event | None = None) -> wire.ServedSignature:
        """GetModelMetadata (retried within the budget), checked against the expected
        feature dimension and the SVM's model and signature (cached)."""
        with self._lock:
            if self._signature is None:
                self._signature = self._fetch_signature(stop or threading.Event())
            return self._signature

    def _fetch_signature(self, stop: threading.Event) -> wire.ServedSignature:
        spec = self.config.target
        request = wire.encode_metadata_request(spec)
        try:
            data = call_with_retry(
                lambda timeout, wait: self._call(
                    self._metadata, request, "metadata", timeout, wait, stop
                ),
                self._budget(),
                self.config.deadline_s,
                stop,
            )
        except ClientError as error:
            if error.code == ErrorCode.NOT_FOUND:
                raise ClientError(error.code, error.details + self._not_found_hint()) from None
            raise
        return served_signature(data, self.config, self._expected_feature_dim, self.svm)

    def _not_found_hint(self) -> str:
        served = []
        for name, probe in hint_probes(self.config.target):
            try:
                self._metadata(probe, timeout=min(5.0, self.config.deadline_s))
            except grpc.RpcError:
                continue
            served.append(name)
        return not_found_hint(self.config.target, served, self.svm is not None)

    # -- one call ----------------------------------------------------------------------

    def _call(
        self,
        method: Any,
        request: bytes,
        what: str,
        timeout: float | None = None,
        wait_for_ready: bool = False,
        stop: threading.Event | None = None,
    ) -> bytes:
        """One RPC; with ``stop``, an interrupt cancels it after ``INTERRUPT_GRACE_S``."""
        future = method.future(
            request,
            timeout=self.config.deadline_s if timeout is None else timeout,
            wait_for_ready=wait_for_ready,
        )
        if stop is not None:
            done = threading.Event()
            future.add_done_callback(lambda _: done.set())
            while not done.wait(_POLL_S):
                if stop.is_set():
                    if not done.wait(INTERRUPT_GRACE_S):
                        future.cancel()
                        raise InterruptedCall()
                    break
        try:
            response: bytes = future.result()
        except grpc.FutureCancelledError:
            raise InterruptedCall() from None
        except grpc.RpcError as error:
            raise from_rpc_error(error, f"{what} on {self.config.target.model_name!r}") from None
        return response

    def predict(
        self,
        images: Sequence[bytes],
        *,
        timeout: float | None = None,
        wait_for_ready: bool = False,
        stop: threading.Event | None = None,
    ) -> BatchResponse:
        """One Predict call (no retry) with client-side timing; raises ClientError."""
        started = time.perf_counter()
        if self.config.preprocess == "server":
            request = wire.encode_predict_request(self.config.target, images)
            encoded = time.perf_counter()
            data = self._call(self._predict, request, "Predict", timeout, wait_for_ready, stop)
            answered = time.perf_counter()
            return timed_response(
                self.decode_output, data, len(images), started, encoded, answered, time.perf_counter
            )
        # --preprocess client: pixels for the JPEGs done here, bytes for the rest (_pixels).
        parts = request_parts(self.config.target, images, self.config.preprocess)
        encoded = time.perf_counter()
        answers = [
            self._call(self._predict, part.request, "Predict", timeout, wait_for_ready, stop)
            for part in parts
        ]
        answered = time.perf_counter()
        return timed_response(
            self.decode_output,
            answers,
            len(images),
            started,
            encoded,
            answered,
            time.perf_counter,
            parts,
        )

    def predict_with_retry(self, images: Sequence[bytes]) -> BatchResponse:
        """``predict`` retried within a budget of its own (one batch, not a stream)."""
        return call_with_retry(
            lambda timeout, wait: self.predict(images, timeout=timeout, wait_for_ready=wait),
            RetryBudget(self.config.retry),
            self.config.deadline_s,
            threading.Event(),
        )

    # -- streaming ---------------------------------------------------------------------

    def featurize(
        self, inputs: Iterable[ImageInput], stop: threading.Event | None = None
    ) -> Iterator[FeatureResult]:
        """Exactly one result per input read, in input order; never raises for what the
        server or network does (only for a bad configuration, before the first result).

        When the retry budget runs out, the inputs in flight and every input not yet sent
        get a RETRY_BUDGET_EXHAUSTED result (the remaining inputs are still listed, so each
        gets its record, but lazy ones are not read). When ``stop`` is set, reading stops,
        requests in flight finish (or are cancelled after ``INTERRUPT_GRACE_S``, giving
        INTERRUPTED results) and the inputs read but not sent get no result.
        """
        stop = stop or threading.Event()
        self.fetch_signature(stop)
        budget = self._budget()

        def send(images: Sequence[bytes], timeout: float, wait_for_ready: bool) -> Features:
            response = self.predict(
                images, timeout=timeout, wait_for_ready=wait_for_ready, stop=stop
            )
            return self.checked(response)

        resolver = BatchResolver(send, budget, self.config.deadline_s, stop)
        pending: deque[Future[list[FeatureResult]]] = deque()
        max_in_flight = self.config.max_in_flight
        complete = False
        with ThreadPoolExecutor(max_in_flight, thread_name_prefix="featurize") as pool:
            try:
                for batch in batches(
                    inputs, self.config.batch_size, self.config.batch_timeout_ms, stop
                ):
                    if batch and budget.exhausted is not None:
                        pending.append(_resolved(not_sent(batch, budget.exhausted)))
                    elif batch:
                        pending.append(pool.submit(resolver.resolve, batch))
                    while pending and (len(pending) >= max_in_flight or pending[0].done()):
                        yield from pending.popleft().result()
                while pending:
                    yield from pending.popleft().result()
                complete = True
            finally:
                if not complete:  # the caller stopped iterating: end the pool's work too
                    stop.set()
                    for future in pending:
                        future.cancel()


def _resolved(results: list[FeatureResult]) -> Future[list[FeatureResult]]:
    future: Future[list[FeatureResult]] = Future()
    future.set_result(results)
    return future
