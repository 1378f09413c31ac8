"""The gRPC layer: everything that talks to TF Serving, synchronously.

``wire`` (request/response encoding) and ``channel`` (channel options, TLS) are public
because the serving package and the tests speak the same wire; the rest is private and
reached through ``Featurizer``. The asyncio twin lives in ``grpc.aio``, as in grpcio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inception_svm_client._lazy import lazy_exports

if TYPE_CHECKING:
    from inception_svm_client.grpc._featurizer import FeatureResult, Featurizer

__all__ = ["FeatureResult", "Featurizer"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "FeatureResult": "_featurizer",
        "Featurizer": "_featurizer",
    },
)
