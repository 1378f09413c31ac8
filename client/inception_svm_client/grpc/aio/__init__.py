"""The asyncio twin of ``Featurizer``, sharing its batching rule, retry and resolver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inception_svm_client._lazy import lazy_exports

if TYPE_CHECKING:
    from inception_svm_client.grpc.aio._featurizer import AsyncFeaturizer

__all__ = ["AsyncFeaturizer"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AsyncFeaturizer": "_featurizer",
    },
)
