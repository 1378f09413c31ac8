"""Drive Predict calls at a server in a closed or an open loop and record every outcome.

Requests are encoded once before the run and sent as raw bytes, so the load generator
spends its CPU on gRPC and not on protobuf; a request's latency is taken around the gRPC
call alone. ``--connections N`` opens N channels that share no subchannel (each its own
TCP/HTTP/2 connection); closed-loop callers are spread over them in turn, open-loop sends
go round robin. Every loop is bounded by the admission budget (request
count and/or duration) and every call by its deadline, so a run always ends.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from inception_svm_client.config import FeaturizerConfig, ModelTarget, RetryPolicy
from inception_svm_client.exceptions import ErrorCode, status_code
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.grpc._pixels import request_parts
from inception_svm_client.grpc.channel import create_channel
from inception_svm_client.loadtest.plan import LoadTestConfig
from inception_svm_client.loadtest.stats import (
    OK_STATUS,
    RequestOutcome,
    RunSummary,
    SendCounters,
    summarize,
)
from inception_svm_client.preprocessing import Preprocess
from inception_svm_client.protos.messages import PREDICT_METHOD

PREFLIGHT_DEADLINE_S = 10.0
PROGRESS_INTERVAL_S = 1.0
# Calls still in flight after their deadline plus this are abandoned, never waited on.
DRAIN_GRACE_S = 5.0


@dataclass(frozen=True)
class Progress:
    """A live snapshot for the progress line."""

    elapsed_s: float
    warming_up: bool
    completed: int
    errors: int
    in_flight: int


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class LoadTestResult:
    summary: RunSummary
    interrupted: bool


@dataclass(frozen=True)
class Ticket:
    warmup: bool


class Admission:
    """Decides, per request, whether it may still go and whether it is part of the warm-up.

    The single place where the run's bounds live, shared by every sending thread; it also
    takes the CPU-time reading the moment the measured phase starts.
    """

    def __init__(self, config: LoadTestConfig, started: float) -> None:
        self._started = started
        self._warmup_s = config.warmup_s
        self._requests = config.requests
        self._end_s = config.warmup_s + config.duration_s if config.duration_s else math.inf
        self._measured = 0
        self._lock = threading.Lock()
        self.stopped = threading.Event()
        self.measure_cpu_start: float | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def admit(self) -> Ticket | None:
        elapsed = self.elapsed()
        with self._lock:
            if self.stopped.is_set():
                return None
            if elapsed < self._warmup_s:
                return Ticket(warmup=True)
            if elapsed >= self._end_s or (
                self._requests is not None and self._measured >= self._requests
            ):
                self.stopped.set()
                return None
            if self.measure_cpu_start is None:
                self.measure_cpu_start = time.process_time()
            self._measured += 1
            return Ticket(warmup=False)

    def stop(self) -> None:
        self.stopped.set()


class Recorder:
    """Thread-safe sink for outcomes, with the live counters the progress line shows."""

    def __init__(self) -> None:
        self._outcomes: list[RequestOutcome] = []
        self._errors = 0
        self._in_flight = 0
        self._idle = threading.Condition()

    def started(self) -> None:
        with self._idle:
            self._in_flight += 1

    def finished(self, outcome: RequestOutcome) -> None:
        with self._idle:
            self._outcomes.append(outcome)
            self._in_flight -= 1
            if outcome.status != OK_STATUS:
                self._errors += 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)

    def in_flight(self) -> int:
        with self._idle:
            return self._in_flight

    def snapshot(self, elapsed_s: float, warming_up: bool) -> Progress:
        with self._idle:
            return Progress(
                elapsed_s=elapsed_s,
                warming_up=warming_up,
                completed=len(self._outcomes),
                errors=self._errors,
                in_flight=self._in_flight,
            )

    def outcomes(self) -> list[RequestOutcome]:
        with self._idle:
            return list(self._outcomes)


def encode_requests(
    images: Sequence[bytes],
    batch_size: int,
    signature: ModelTarget,
    preprocess: Preprocess = "server",
) -> list[bytes]:
    """Enough distinct batches to send every image at least once, wrapping around.

    A batch larger than the image set repeats images: the server's work per image is
    the same, and the set stays small enough to hold in memory encoded. With
    ``preprocess="client"`` a batch whose images the client preprocesses exactly is sent
    as pixels (``predict_pixels``); a batch holding any other image is sent as bytes.
    """
    count = math.ceil(len(images) / batch_size)
    requests = []
    for index in range(count):
        batch = [images[(index * batch_size + j) % len(images)] for j in range(batch_size)]
        parts = request_parts(signature, batch, preprocess)
        if len(parts) == 1:
            requests.append(parts[0].request)
        else:
            requests.append(wire.encode_predict_request(signature, batch))
    return requests


def response_status(data: bytes, batch_size: int, output_name: str) -> str:
    """OK when the response holds ``[batch_size, D]`` logits: a fast wrong answer is an error."""
    try:
        wire.decode_logits(data, output_name, batch_size)
    except ValueError:
        return ErrorCode.BAD_RESPONSE
    return OK_STATUS


def preflight(channel: grpc.Channel, config: LoadTestConfig) -> None:
    """Fail before the run, with one clear ClientError, when the server or model is wrong.

    Its deadline is its own: a run with a deliberately tiny ``--deadline`` still starts,
    and reports its DEADLINE_EXCEEDED calls as figures.
    """
    featurizer = Featurizer(
        channel,
        FeaturizerConfig(
            target=config.target,
            preprocess=config.preprocess,
            deadline_s=PREFLIGHT_DEADLINE_S,
            retry=RetryPolicy(max_attempts=1),
        ),
    )
    featurizer.fetch_signature()


class LoadRunner:
    """One load test over one channel; ``run`` may be called once."""

    def __init__(self, config: LoadTestConfig, channels: Sequence[grpc.Channel]) -> None:
        self.config = config
        self._predicts: list[Any] = [channel.unary_unary(PREDICT_METHOD) for channel in channels]
        self._requests = encode_requests(
            config.images, config.batch_size, config.target, config.preprocess
        )
        self._recorder = Recorder()
        self._admission: Admission  # made by run(): the run's clock starts there
        self._sends = SendCounters()

    def start_clock(self) -> None:
        """Start the run's clock now; ``run`` starts it itself unless this came first, so a
        sweep controller can read ``elapsed`` from before the first send."""
        self._admission = Admission(self.config, time.monotonic())

    def elapsed(self) -> float:
        return self._admission.elapsed()

    def stop(self) -> None:
        """No new request from now on; those in flight still finish and count."""
        self._admission.stop()

    def outcomes(self) -> list[RequestOutcome]:
        return self._recorder.outcomes()

    @property
    def sends(self) -> SendCounters:
        """The open loop's schedule counters, complete once ``run`` has returned."""
        return self._sends

    def run(self, on_progress: ProgressCallback | None = None) -> LoadTestResult:
        if not hasattr(self, "_admission"):
            self.start_clock()
        interrupted = False
        try:
            if self.config.open_loop:
                self._open_loop(on_progress)
            else:
                self._closed_loop(on_progress)
        except KeyboardInterrupt:
            interrupted = True
            self._admission.stop()
        self._recorder.wait_idle(self.config.deadline_s + DRAIN_GRACE_S)
        cpu_end = time.process_time()
        cpu_start = self._admission.measure_cpu_start
        summary = summarize(
            self._recorder.outcomes(),
            client_cpu_s=cpu_end - cpu_start if cpu_start is not None else 0.0,
            sends=self._sends,
        )
        return LoadTestResult(summary=summary, interrupted=interrupted)

    # -- one request -------------------------------------------------------------------

    def _outcome(self, sent_at: float, latency_s: float, status: str, ticket: Ticket) -> None:
        self._recorder.finished(
            RequestOutcome(
                sent_at=sent_at,
                latency_s=latency_s,
                images=self.config.batch_size,
                status=status,
                warmup=ticket.warmup,
            )
        )

    def _status_of(self, data: bytes) -> str:
        if not self.config.check_responses:
            return OK_STATUS
        return response_status(data, self.config.batch_size, self.config.target.output_name)

    # -- closed loop -------------------------------------------------------------------

    def _closed_loop(self, on_progress: ProgressCallback | None) -> None:
        threads = [
            threading.Thread(target=self._caller, args=(offset,), name=f"loadtest-{offset}")
            for offset in range(self.config.concurrency)
        ]
        for thread in threads:
            thread.daemon = True  # an interrupted run must not hang the interpreter
            thread.start()
        next_progress = 0.0
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)
                next_progress = self._maybe_progress(on_progress, next_progress)

    def _caller(self, offset: int) -> None:
        admission, requests = self._admission, self._requests
        predict = self._predicts[offset % len(self._predicts)]
        index = offset
        while (ticket := admission.admit()) is not None:
            request = requests[index % len(requests)]
            index += self.config.concurrency
            self._recorder.started()
            sent_at = admission.elapsed()
            started = time.perf_counter()
            try:
                data = predict(request, timeout=self.config.deadline_s)
                status = OK_STATUS
            except grpc.RpcError as error:
                data, status = b"", ErrorCode.from_status(status_code(error))
            latency_s = time.perf_counter() - started
            if status == OK_STATUS:
                status = self._status_of(data)
            self._outcome(sent_at, latency_s, status, ticket)

    # -- open loop ---------------------------------------------------------------------

    def _open_loop(self, on_progress: ProgressCallback | None) -> None:
        assert self.config.rate is not None
        interval_s = 1.0 / self.config.rate
        admission, requests = self._admission, self._requests
        scheduled = dropped = late = 0
        max_lag_s = 0.0
        index = 0
        next_progress = 0.0
        try:
            while True:
                due_s = index * interval_s
                now = admission.elapsed()
                while now < due_s:
                    time.sleep(min(due_s - now, 0.2))
                    next_progress = self._maybe_progress(on_progress, next_progress)
                    now = admission.elapsed()
                ticket = admission.admit()
                if ticket is None:
                    break
                request = requests[index % len(requests)]
                index += 1
                lag_s = now - due_s
                measured = not ticket.warmup
                scheduled += measured
                if self._recorder.in_flight() >= self.config.max_outstanding:
                    dropped += measured
                    continue
                if lag_s > self.config.late_threshold_s:
                    late += measured
                if measured:
                    max_lag_s = max(max_lag_s, lag_s)
                self._send_async(self._predicts[index % len(self._predicts)], request, ticket)
            while not self._recorder.wait_idle(0.2):
                next_progress = self._maybe_progress(on_progress, next_progress)
                if admission.elapsed() > due_s + self.config.deadline_s + DRAIN_GRACE_S:
                    break
        finally:
            self._sends = SendCounters(
                scheduled=scheduled, dropped=dropped, late=late, max_lag_s=max_lag_s
            )

    def _send_async(self, predict: Any, request: bytes, ticket: Ticket) -> None:
        self._recorder.started()
        sent_at = self._admission.elapsed()
        started = time.perf_counter()
        future = predict.future(request, timeout=self.config.deadline_s)

        def done(call: Any) -> None:
            latency_s = time.perf_counter() - started
            try:
                status = self._status_of(call.result())
            except grpc.RpcError as error:
                status = ErrorCode.from_status(status_code(error))
            except grpc.FutureCancelledError:
                status = grpc.StatusCode.CANCELLED.name
            self._outcome(sent_at, latency_s, status, ticket)

        future.add_done_callback(done)

    # -- progress ----------------------------------------------------------------------

    def _maybe_progress(self, on_progress: ProgressCallback | None, due_s: float) -> float:
        if on_progress is None:
            return due_s
        elapsed = self._admission.elapsed()
        if elapsed < due_s:
            return due_s
        on_progress(self._recorder.snapshot(elapsed, elapsed < self.config.warmup_s))
        return elapsed + PROGRESS_INTERVAL_S


@contextlib.contextmanager
def open_channels(config: LoadTestConfig) -> Iterator[list[grpc.Channel]]:
    """``config.connections`` channels, each with its own subchannel pool: gRPC would
    otherwise put channels with equal targets and options on one shared connection. The
    first one is checked with ``preflight``, which raises ClientError before any load."""
    separate = [("grpc.use_local_subchannel_pool", 1)]
    channels = [
        create_channel(config.channel, extra_options=separate) for _ in range(config.connections)
    ]
    try:
        preflight(channels[0], config)
        yield channels
    finally:
        for channel in channels:
            channel.close()


def run_load_test(
    config: LoadTestConfig, on_progress: ProgressCallback | None = None
) -> LoadTestResult:
    """Connect, check the served signature, run; raises ClientError before the run starts."""
    with open_channels(config) as channels:
        return LoadRunner(config, channels).run(on_progress)
