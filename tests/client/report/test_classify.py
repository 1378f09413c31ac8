"""The HTML report as ``classify --report`` writes it (``render_report``), checked as HTML
text here and in headless Chromium for the 2,000-image case."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest

from inception_svm_client.records import ClassifyRecord
from inception_svm_client.report._classify import PAGE_SIZE, render_report
from inception_svm_client.svm._metadata import FeaturizerInfo, SvmMetadata
from tests.browser import dump_dom, screenshot
from tests.paths import car_photos

CLASSES = ["classic", "modern"]
# A thumbnail is 3-7 KB of base64 JPEG plus ~100 bytes of JSON per record; 12 KB per image
# keeps a 2,000-image page under 24 MB, which a browser parses in about a second and a
# mail or chat attachment limit usually still takes, where the originals made 400 MB.
MAX_BYTES_PER_IMAGE = 12 * 1024
LARGE_REPORT_IMAGES = 2000


def svm_metadata() -> SvmMetadata:
    return SvmMetadata(
        class_names=CLASSES,
        feature_dim=1001,
        featurizer=FeaturizerInfo("inception_v1", 1, "serving_default"),
        training_set_size=20,
        trained_at="2026-01-01T00:00:00Z",
        sklearn_version="1.8.0",
        loo_accuracy=None,
    )


def classified(count: int, error_every: int = 0, seed: int = 0) -> list[ClassifyRecord]:
    """``count`` records over the bundled photos (repeated), labels from the score's sign
    as the SVM gives them, and every ``error_every``-th input failed."""
    rng = random.Random(seed)
    photos = [str(p) for p in car_photos()]
    records = []
    for index in range(count):
        path = photos[index % len(photos)]
        if error_every and index % error_every == error_every - 1:
            records.append(ClassifyRecord(path, error="INVALID_ARGUMENT: not an image"))
            continue
        score = rng.gauss(0.8 if index % 3 else -1.0, 0.6)
        records.append(ClassifyRecord(path, CLASSES[score > 0], score))
    return records


def embedded_records(page: str) -> list[dict[str, object]]:
    found = re.search(r"<script type='application/json' id='records'>(.*?)</script>", page)
    assert found is not None
    rows: list[dict[str, object]] = json.loads(found.group(1))
    return rows


def test_summary_errors_and_distribution_come_first() -> None:
    records = classified(60, error_every=10)
    page = render_report(records, svm_metadata(), notice="random weights")
    labels = {name: sum(r.label == name for r in records if r.error is None) for name in CLASSES}
    summary = page[page.index("id='summary'") : page.index("id='images'")]
    for name, count in labels.items():
        assert f"data-label='{name}'>{name}</a></td><td class='n'>{count}</td>" in summary
    assert "data-label='!error' class='error'>errors</a></td><td class='n'>6</td>" in summary
    assert summary.count("INVALID_ARGUMENT: not an image") == 6
    assert page.index("class='notice'") < page.index("id='summary'")
    # One histogram row per label; bars' counts add up to the label's count.
    bars = re.findall(r"<title>(\w+): (\d+)</title>", summary)
    assert {name: sum(int(n) for label, n in bars if label == name) for name in CLASSES} == labels


def test_thumbnails_replace_the_originals() -> None:
    records = classified(len(car_photos()))
    page = render_report(records, svm_metadata())
    rows = embedded_records(page)
    originals = sum(Path(r.path).stat().st_size for r in records)
    assert all(str(row["t"]).startswith("data:image/jpeg;base64,") for row in rows)
    assert len(page) < originals / 5
    assert len(page) / len(records) < MAX_BYTES_PER_IMAGE


def test_file_names_cannot_inject_markup(tmp_path: Path) -> None:
    hostile = "</script><script>alert(1)</script>.jpg"
    records = [
        ClassifyRecord(str(tmp_path / hostile), "classic", -0.5),
        ClassifyRecord(str(tmp_path / "<b>x</b>.png"), error="NOT_FOUND: <b>gone</b>"),
    ]
    page = render_report(records, svm_metadata())
    assert "<script>alert(1)" not in page and "<b>" not in page
    rows = embedded_records(page)
    assert [row["p"] for row in rows] == [r.path for r in records]
    assert rows[0]["t"] is None  # unreadable file: listed without a thumbnail


@pytest.fixture(scope="module")
def large_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = classified(LARGE_REPORT_IMAGES, error_every=50)
    page = tmp_path_factory.mktemp("report") / "report.html"
    page.write_text(render_report(records, svm_metadata()), encoding="utf-8")
    return page


def test_large_report_size_per_image(large_report: Path) -> None:
    size = large_report.stat().st_size
    print(f"\n{LARGE_REPORT_IMAGES}-image report: {size / 1e6:.1f} MB, {size / 2000:.0f} B/image")
    assert size / LARGE_REPORT_IMAGES < MAX_BYTES_PER_IMAGE


def test_large_report_in_headless_chromium(large_report: Path) -> None:
    """Chromium opens the page, the script draws one page of figures (not 2,000), and the
    summary is on the first screen."""
    run = dump_dom(large_report)
    rendered = re.search(r'<body data-rendered="(\d+)"', run.output)
    assert rendered is not None, "the grid script did not finish"
    assert run.output.count("<figure>") == PAGE_SIZE
    assert "2000 shown of 2000, page 1 of 10" in run.output
    total = re.search(r"<th>total</th><td class=\"n\">(\d+)</td>", run.output)
    assert total is not None and total.group(1) == str(LARGE_REPORT_IMAGES)
    png = screenshot(large_report, large_report.with_suffix(".png"), width=1280, height=900)
    assert Path(png.output).stat().st_size > 10_000  # a rendered page, not a blank one
    print(
        f"\nchromium: grid drawn {rendered.group(1)} ms after navigation start; "
        f"dump-dom run {run.wall_s:.1f} s; screenshot {png.output}"
    )


def test_weights_banner_comes_from_the_svm_metadata() -> None:
    records = classified(3)
    unofficial = replace(svm_metadata(), weights="not the official x checkpoint (sha256 ab)")
    assert "The featurizer weights are not the official checkpoint" in render_report(
        records, unofficial
    )
    official = replace(svm_metadata(), weights="official x checkpoint (sha256 cd)")
    assert "class='notice'" not in render_report(records, official)
    assert "class='notice'" not in render_report(records, svm_metadata())  # not recorded
