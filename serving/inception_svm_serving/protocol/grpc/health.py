"""grpc.health.v1: NOT_SERVING until every configured model is loaded and warmed up.

Kubernetes readiness probes and the test harness both wait on this, so traffic only arrives
once the first request will not pay for model load or graph tracing.
"""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2

SERVICES = ("", "tensorflow.serving.PredictionService")


class HealthState:
    def __init__(self) -> None:
        self.servicer = health.HealthServicer()
        self.set_serving(False)

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in SERVICES:
            self.servicer.set(service, status)
