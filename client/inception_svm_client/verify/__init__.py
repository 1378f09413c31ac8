"""``inception-svm verify``'s checks, and the golden file the exporter writes for them.

``golden`` is public: the exporter writes the file this package reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inception_svm_client._lazy import lazy_exports

if TYPE_CHECKING:
    from inception_svm_client.verify._checks import Check, Verifier

__all__ = ["Check", "Verifier"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Check": "_checks",
        "Verifier": "_checks",
    },
)
