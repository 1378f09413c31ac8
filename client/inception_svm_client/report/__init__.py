"""The self-contained HTML page of ``classify --report``: table, score chart, thumbnails.

Pillow and plotly come from the ``report`` extra; without them the page degrades (no
thumbnails, no chart) instead of failing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inception_svm_client._lazy import lazy_exports

if TYPE_CHECKING:
    from inception_svm_client.report._classify import render_report

__all__ = ["render_report"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "render_report": "_classify",
    },
)
