"""A single self-contained HTML page for one ``classify`` run, usable at thousands of images.

Top of the page, rendered as plain HTML so it shows even before (or without) JavaScript:
the notice, counts per label and of errors, the first errors, and the score distribution
per label. Below, the images as a grid of small JPEG thumbnails (``thumbnails.py``) that a
short script draws one page of ``PAGE_SIZE`` at a time from an embedded JSON array, with
filtering by label, error or path and sorting by score, label or path: drawing 2,000
figures at once is what made the old page slow to open, not their bytes alone.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from inception_svm_client.grpc._imagenet import is_official
from inception_svm_client.records import ClassifyRecord, encode_path
from inception_svm_client.report._chart import score_histogram_svg
from inception_svm_client.report._thumbnails import INSTALL_HINT, pillow, thumbnail_data_uri
from inception_svm_client.svm._metadata import SvmMetadata, TrainingReport

_log = logging.getLogger(__name__)

PAGE_SIZE = 200
ERRORS_LISTED = 10

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
.grid { display: flex; flex-wrap: wrap; gap: .8em; }
figure { margin: 0; width: 170px; border: 1px solid #ddd; padding: .4em; }
figure img { width: 160px; height: 120px; object-fit: contain; display: block; margin: auto; }
figure .noimg { width: 160px; height: 40px; color: #888; font-size: .8em; }
figcaption { font-size: .8em; }
.path { word-break: break-all; color: #555; }
.label { font-weight: bold; font-size: 1.1em; }
.error { color: #b00; }
.notice { color: #fff; background: #b00; padding: .6em; font-weight: bold; }
table { border-collapse: collapse; } td, th { border: 1px solid #999; padding: .3em .6em; }
td.n { text-align: right; }
.controls { margin: 1em 0; display: flex; gap: 1em; flex-wrap: wrap; align-items: center; }
.chart text { font-size: 12px; font-family: sans-serif; }
"""

# Draws the current page of the filtered, sorted records; textContent only, never innerHTML,
# so a file name cannot inject markup. data-rendered records when the first page was drawn
# (ms since navigation), which the browser check reads.
_SCRIPT = """
const records = JSON.parse(document.getElementById('records').textContent);
const PAGE = %(page)d;
const $ = (id) => document.getElementById(id);
let view = records, page = 0;
const orders = {
  input: (a, b) => a.i - b.i,
  'score-desc': (a, b) => (b.s ?? -Infinity) - (a.s ?? -Infinity),
  'score-asc': (a, b) => (a.s ?? Infinity) - (b.s ?? Infinity),
  label: (a, b) => (a.l ?? '\\uffff').localeCompare(b.l ?? '\\uffff') || a.i - b.i,
  path: (a, b) => a.p.localeCompare(b.p),
};
function figure(r) {
  const fig = document.createElement('figure');
  if (r.t) {
    const img = document.createElement('img');
    img.src = r.t; img.alt = ''; img.loading = 'lazy';
    fig.append(img);
  } else {
    const none = document.createElement('div');
    none.className = 'noimg'; none.textContent = '(no thumbnail)';
    fig.append(none);
  }
  const cap = document.createElement('figcaption');
  const head = document.createElement('span');
  if (r.e != null) {
    head.className = 'error'; head.textContent = 'error: ' + r.e;
    cap.append(head);
  } else {
    head.className = 'label'; head.textContent = r.l;
    cap.append(head, ' score ' + (r.s >= 0 ? '+' : '') + r.s.toFixed(3));
  }
  const path = document.createElement('div');
  path.className = 'path'; path.textContent = r.p;
  cap.append(path);
  fig.append(cap);
  return fig;
}
function draw() {
  const pages = Math.max(1, Math.ceil(view.length / PAGE));
  page = Math.min(Math.max(page, 0), pages - 1);
  const items = view.slice(page * PAGE, (page + 1) * PAGE).map(figure);
  $('grid').replaceChildren(...items);
  $('page-info').textContent = view.length + ' shown of ' + records.length +
    ', page ' + (page + 1) + ' of ' + pages;
  $('prev').disabled = page === 0;
  $('next').disabled = page >= pages - 1;
}
function apply() {
  const label = $('filter-label').value, text = $('filter-text').value.toLowerCase();
  view = records.filter((r) =>
    (label === '*' || (label === '!error' ? r.e != null : r.e == null && r.l === label)) &&
    (!text || r.p.toLowerCase().includes(text)));
  view.sort(orders[$('sort').value]);
  page = 0;
  draw();
}
for (const id of ['filter-label', 'sort']) $(id).addEventListener('change', apply);
$('filter-text').addEventListener('input', apply);
$('prev').addEventListener('click', () => { page--; draw(); });
$('next').addEventListener('click', () => { page++; draw(); });
for (const a of document.querySelectorAll('a[data-label]')) {
  a.addEventListener('click', (event) => {
    event.preventDefault();
    $('filter-label').value = a.dataset.label;
    apply();
    $('images').scrollIntoView();
  });
}
apply();
document.body.dataset.rendered = performance.now().toFixed(0);
"""


def _thumbnails(records: Sequence[ClassifyRecord]) -> dict[str, str | None]:
    """One thumbnail per distinct classified path, made on every core (Pillow releases
    the GIL while decoding and resizing): decoding is most of a report's cost."""
    image_module = pillow()
    if image_module is None:
        if records:
            _log.warning("the report has no thumbnails: %s", INSTALL_HINT)
        return {}
    paths = list(dict.fromkeys(r.path for r in records if r.error is None))
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        uris = pool.map(lambda path: thumbnail_data_uri(path, image_module), paths)
        return dict(zip(paths, uris, strict=True))


def _records_json(records: Sequence[ClassifyRecord]) -> str:
    """Short keys (2,000 records) and no ``<`` at all, so the JSON cannot end the
    ``<script>`` element it lives in whatever a file name contains."""
    thumbnails = _thumbnails(records)
    rows = []
    for index, record in enumerate(records):
        row: dict[str, object] = {"i": index, "p": encode_path(record.path)}
        if record.error is not None:
            row["e"] = record.error
        else:
            row["l"] = record.label
            row["s"] = round(record.score or 0.0, 4)
            row["t"] = thumbnails.get(record.path)
        rows.append(row)
    return json.dumps(rows, separators=(",", ":")).replace("<", "\\u003c")


def _summary(records: Sequence[ClassifyRecord], classes: Sequence[str]) -> str:
    labels = Counter(r.label for r in records if r.error is None and r.label is not None)
    errors = [r for r in records if r.error is not None]
    rows = "".join(
        f"<tr><td><a href='#images' data-label='{html.escape(name)}'>{html.escape(name)}</a>"
        f"</td><td class='n'>{labels.get(name, 0)}</td></tr>"
        for name in [*classes, *sorted(set(labels) - set(classes), key=str)]
    )
    rows += (
        f"<tr><td><a href='#images' data-label='!error' class='error'>errors</a></td>"
        f"<td class='n'>{len(errors)}</td></tr>"
        f"<tr><th>total</th><td class='n'>{len(records)}</td></tr>"
    )
    parts = [f"<section id='summary'><h2>Summary</h2><table>{rows}</table>"]
    if errors:
        listed = "".join(
            f"<li>{html.escape(encode_path(r.path))}: "
            f"<span class='error'>{html.escape(r.error or '')}</span></li>"
            for r in errors[:ERRORS_LISTED]
        )
        more = len(errors) - ERRORS_LISTED
        tail = f"<p>… and {more} more (filter by <em>errors</em> below).</p>" if more > 0 else ""
        parts.append(f"<h3 class='error'>Errors</h3><ul>{listed}</ul>{tail}")
    parts.append("</section>")
    return "".join(parts)


def _distribution(records: Sequence[ClassifyRecord], classes: Sequence[str]) -> str:
    scores: dict[str, list[float]] = {name: [] for name in classes}
    for record in records:
        if record.error is None and record.label is not None and record.score is not None:
            scores.setdefault(record.label, []).append(record.score)
    chart = score_histogram_svg(scores)
    return f"<h2>Score distribution</h2>{chart}" if chart else ""


def _controls(classes: Sequence[str]) -> str:
    options = "".join(
        f"<option value='{html.escape(name)}'>{html.escape(name)}</option>" for name in classes
    )
    return (
        "<div class='controls'>"
        "<label>label <select id='filter-label'><option value='*'>all</option>"
        f"{options}<option value='!error'>errors</option></select></label>"
        "<label>sort <select id='sort'><option value='input'>input order</option>"
        "<option value='score-desc'>score, high first</option>"
        "<option value='score-asc'>score, low first</option>"
        "<option value='label'>label</option><option value='path'>path</option></select>"
        "</label><label>path contains <input id='filter-text' type='search'></label>"
        "<button id='prev'>previous</button><span id='page-info'></span>"
        "<button id='next'>next</button></div>"
    )


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
        f"<tr><th>{html.escape(name)}</th>{''.join(f'<td class=n>{v}</td>' for v in row)}</tr>"
        for name, row in zip(training.class_names, training.confusion_matrix, strict=True)
    )
    parts.append(
        "<table class='cm'><caption>Confusion matrix (rows: true, columns: predicted)"
        f"</caption><tr><th></th>{header}</tr>{rows}</table>"
    )
    return "\n".join(parts)


def weights_notice(svm: SvmMetadata) -> str | None:
    """The banner for features from anything but the official checkpoint, taken from what
    the export recorded (through the SVM's metadata), so nobody has to remember a flag."""
    if svm.weights is None or is_official(svm.weights):
        return None
    return (
        "The featurizer weights are not the official checkpoint (its export recorded: "
        f"{svm.weights}): unless these are weights you trust (e.g. your own fine-tuned "
        "checkpoint), labels and scores on this page are meaningless (random weights give "
        "random features)."
    )


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
            "Score is the SVM decision score (the records' <code>score</code>, a signed "
            f"distance from the boundary): positive means {html.escape(classes[1])}, "
            f"negative {html.escape(classes[0])}; the further from 0, the more confident."
        )
    else:
        sign = "Score is the winning class's SVM decision score (the records' <code>score</code>)."
    featurizer = svm.featurizer
    about = (
        f"SVM trained {html.escape(svm.trained_at)} on {svm.training_set_size} images; "
        f"features from model {html.escape(featurizer.model_name)} version "
        f"{featurizer.model_version} signature {html.escape(featurizer.signature_name)}."
    )
    training_html = _training_section(training) if training is not None else ""
    notices = [n for n in (weights_notice(svm), notice) if n]
    notice_html = "".join(f"<p class='notice'>{html.escape(n)}</p>" for n in notices)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>inception-svm report</title><style>{_STYLE}</style></head><body>"
        f"<h1>inception-svm classification</h1>{notice_html}<p>{about}</p>"
        f"{_summary(records, classes)}{_distribution(records, classes)}<p>{sign}</p>"
        f"<h2 id='images'>Images</h2>{_controls(classes)}"
        "<noscript><p>The image grid needs JavaScript; the summary above does not.</p>"
        "</noscript><div id='grid' class='grid'></div>"
        f"{training_html}"
        f"<script type='application/json' id='records'>{_records_json(records)}</script>"
        f"<script>{_SCRIPT % {'page': PAGE_SIZE}}</script></body></html>\n"
    )
