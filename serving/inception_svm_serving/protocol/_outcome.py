"""What each protocol boundary records once a request has ended, success or failure.

TF Serving counts ``:tensorflow:serving:request_count`` by status and observes
``request_latency`` per API and entrypoint in its protocol handlers (the gRPC service
implementation and the HTTP REST handler), not in the model code below them. The stand-in
does the same: the gRPC wrapper in grpc/servicer.py and ``RestApi.handle`` in rest/routes.py
call these two functions and nothing below them touches the request metrics. _exceptions.py
only describes failures and maps them to statuses.
"""

from __future__ import annotations

import time

from inception_svm_serving._exceptions import Code, ServingError, as_serving_error
from inception_svm_serving.observability.logs import log_event
from inception_svm_serving.observability.metrics import ServerMetrics


def request_succeeded(
    metrics: ServerMetrics, model: str, api: str, entrypoint: str, started: float
) -> None:
    """``started`` is the ``time.perf_counter()`` reading taken when the request arrived."""
    metrics.record_request(model, api, entrypoint, "OK", time.perf_counter() - started)


def request_failed(
    raw: BaseException,
    metrics: ServerMetrics | None,
    model: str,
    api: str,
    entrypoint: str,
    started: float,
) -> ServingError:
    """The failure as the status the caller gets, counted under that status (``metrics`` None:
    an API TF Serving does not count), plus a log line for INTERNAL, whose cause is a server
    bug rather than the request."""
    error = as_serving_error(raw)
    if metrics is not None:
        metrics.record_request(
            model, api, entrypoint, error.code.name, time.perf_counter() - started
        )
    if error.code is Code.INTERNAL:
        log_event("request_failed", api=api, model=model, error=error.message)
    return error
