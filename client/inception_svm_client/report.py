"""A single self-contained HTML page: each image with its label and distance from the
boundary (as the original notebook showed them), plus the training report when given.

Thumbnails are the original encoded bytes inlined as base64 and scaled down by CSS. The
thin client has no image decoder on purpose (no Pillow: ~12 MB more to install for a
convenience page); the demo photos are ~50-200 KB so the page stays small, and files over
``MAX_INLINE_BYTES`` are listed without a thumbnail instead of bloating it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from inception_svm_client.records import ClassifyRecord, encode_path
from inception_svm_client.svm import SvmMetadata, TrainingReport

MAX_INLINE_BYTES = 2 * 1024 * 1024
_MIME_BY_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
)

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; width: 220px; border: 1px solid #ddd; padding: .5em; }
figure img { max-width: 220px; max-height: 160px; display: block; margin: auto; }
figcaption { font-size: .85em; word-break: break-all; }
.label { font-weight: bold; font-size: 1.1em; }
.error { color: #b00; }
.notice { color: #fff; background: #b00; padding: .6em; font-weight: bold; }
table.cm { border-collapse: collapse; } table.cm td, table.cm th { border: 1px solid #999;
  padding: .3em .6em; text-align: right; }
"""


def _mime(data: bytes) -> str | None:
    return next((mime for magic, mime in _MIME_BY_MAGIC if data.startswith(magic)), None)


def _thumbnail(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return "<div class='error'>(image not readable)</div>"
    mime = _mime(data)
    if mime is None or len(data) > MAX_INLINE_BYTES:
        return "<div>(no thumbnail)</div>"
    encoded = base64.b64encode(data).decode("ascii")
    return f"<img alt='' src='data:{mime};base64,{encoded}'>"


def _figure(record: ClassifyRecord) -> str:
    name = html.escape(encode_path(record.path))
    if record.error is not None:
        caption = f"<span class='error'>error: {html.escape(record.error)}</span>"
    else:
        caption = (
            f"<span class='label'>{html.escape(record.label or '')}</span> "
            f"distance {record.score:+.3f}"
        )
    return f"<figure>{_thumbnail(record.path)}<figcaption>{caption}<br>{name}</figcaption></figure>"


def _training_section(training: TrainingReport) -> str:
    parts = ["<h2>Training</h2>"]
    sizes = ", ".join(
        f"{html.escape(n)}: {c}"
        for n, c in zip(training.class_names, training.samples_per_class, strict=True)
    )
    parts.append(f"<p>Training images per class: {sizes}</p>")
    if training.loo_accuracy is None or training.confusion_matrix is None:
        parts.append("<p>Leave-one-out: not computed (a class has a single image).</p>")
        return "\n".join(parts)
    parts.append(f"<p>Leave-one-out accuracy: {training.loo_accuracy:.1%}</p>")
    header = "".join(f"<th>{html.escape(n)}</th>" for n in training.class_names)
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>{''.join(f'<td>{v}</td>' for v in row)}</tr>"
        for name, row in zip(training.class_names, training.confusion_matrix, strict=True)
    )
    parts.append(
        "<table class='cm'><caption>Confusion matrix (rows: true, columns: predicted)"
        f"</caption><tr><th></th>{header}</tr>{rows}</table>"
    )
    return "\n".join(parts)


def render_report(
    records: Sequence[ClassifyRecord],
    svm: SvmMetadata,
    training: TrainingReport | None = None,
    notice: str | None = None,
) -> str:
    """``notice`` is shown first, in red: a page gets shared without the terminal output
    that warned about it (e.g. the demo's random weights)."""
    classes = svm.class_names
    if len(classes) == 2:
        sign = (
            f"Distance is the SVM decision score: positive means {html.escape(classes[1])}, "
            f"negative {html.escape(classes[0])}; the further from 0, the more confident."
        )
    else:
        sign = "Distance is the winning class's SVM decision score."
    featurizer = svm.featurizer
    about = (
        f"SVM trained {html.escape(svm.trained_at)} on {svm.training_set_size} images; "
        f"features from model {html.escape(featurizer.model_name)} version "
        f"{featurizer.model_version} signature {html.escape(featurizer.signature_name)}."
    )
    figures = "\n".join(_figure(record) for record in records)
    training_html = _training_section(training) if training is not None else ""
    notice_html = f"<p class='notice'>{html.escape(notice)}</p>" if notice else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>inception-svm report</title><style>{_STYLE}</style></head><body>"
        f"<h1>inception-svm classification</h1>{notice_html}<p>{about}</p><p>{sign}</p>"
        f"<div class='grid'>{figures}</div>{training_html}</body></html>\n"
    )
