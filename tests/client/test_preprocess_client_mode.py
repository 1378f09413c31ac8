"""``--preprocess client`` through a real server: the same logits and SVM decisions as the
bytes path, per-image fallback to bytes for what the client does not reproduce, and the
records saying which path each image took (classify, verify and loadtest as users run them).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inception_svm_client.config import ChannelConfig, FeaturizerConfig, ModelTarget
from inception_svm_client.contract import PRELOGITS_OUTPUT
from inception_svm_client.exceptions import SettingError
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.inputs import ImageInput
from tests.harness import ServerHandle
from tests.paths import DATA_DIR, car_photos
from tests.reliability.cli import jsonl_records, run_cli

# Goal of issue 26: max |Δlogit| vs the bytes path ≤ 1e-4 of the largest logit.
RELATIVE_LOGIT_TOLERANCE = 1e-4


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _mixed_inputs() -> dict[str, bytes]:
    """Every bundled photo, odd JPEGs the client preprocesses, and formats it leaves to the
    server (CMYK JPEG, PNG), interleaved so one batch holds both kinds."""
    photo = Image.open(car_photos()[0]).convert("RGB")
    bundled = car_photos() + sorted((DATA_DIR / "samples").glob("*.jpg"))
    inputs = {path.name: path.read_bytes() for path in bundled}
    inputs |= {
        "gray.jpg": _encode(photo.convert("L"), "JPEG"),
        "panorama.jpg": _encode(photo.resize((2000, 300)), "JPEG"),
        "tiny.jpg": _encode(photo.resize((17, 9)), "JPEG"),
        "progressive.jpg": _encode(photo, "JPEG", progressive=True),
        "cmyk.jpg": _encode(photo.convert("CMYK"), "JPEG"),
        "photo.png": _encode(photo, "PNG"),
    }
    return inputs


FALLBACKS = {"cmyk.jpg", "photo.png"}


def _features(
    server: ServerHandle, inputs: dict[str, bytes], preprocess: str
) -> dict[str, tuple[np.ndarray, str | None]]:
    config = FeaturizerConfig(batch_size=8, preprocess=preprocess)  # type: ignore[arg-type]
    channel = ChannelConfig(target=server.grpc_target)
    with Featurizer.connect(channel, config) as featurizer:
        results = list(featurizer.featurize(ImageInput(k, v) for k, v in inputs.items()))
    assert all(r.features is not None for r in results), [r.error for r in results]
    return {r.key: (r.features, r.preprocessed) for r in results}  # type: ignore[misc]


def test_client_mode_gives_the_bytes_paths_logits(stand_in: ServerHandle) -> None:
    inputs = _mixed_inputs()
    server_side = _features(stand_in, inputs, "server")
    client_side = _features(stand_in, inputs, "client")
    for name in inputs:
        expected, where_server = server_side[name]
        got, where_client = client_side[name]
        assert where_server == "server"
        assert where_client == ("server" if name in FALLBACKS else "client"), name
        allowed = RELATIVE_LOGIT_TOLERANCE * float(np.abs(expected).max())
        worst = float(np.abs(got - expected).max())
        assert worst <= allowed, f"{name}: max |Δlogit| {worst:.3g} > {allowed:.3g}"
        assert int(np.argmax(got)) == int(np.argmax(expected)), name


def test_asyncio_client_sends_the_same_pixels(stand_in: ServerHandle) -> None:
    """``grpc.aio``'s featurizer builds its requests with the same code, off the loop."""
    import asyncio

    from inception_svm_client.grpc.aio import AsyncFeaturizer

    inputs = _mixed_inputs()

    async def featurize() -> dict[str, tuple[np.ndarray, str | None]]:
        config = FeaturizerConfig(batch_size=8, preprocess="client")
        channel = ChannelConfig(target=stand_in.grpc_target)
        async with AsyncFeaturizer.connect(channel, config) as featurizer:
            items = (ImageInput(k, v) for k, v in inputs.items())
            return {r.key: (r.features, r.preprocessed) async for r in featurizer.featurize(items)}  # type: ignore[misc]

    by_async = asyncio.run(featurize())
    by_sync = _features(stand_in, inputs, "client")
    for name, (features, where) in by_sync.items():
        np.testing.assert_array_equal(by_async[name][0], features, err_msg=name)
        assert by_async[name][1] == where, name


def test_prelogits_cannot_be_asked_of_predict_pixels() -> None:
    with pytest.raises(SettingError, match="preprocess client"):
        FeaturizerConfig(target=ModelTarget(output_name=PRELOGITS_OUTPUT), preprocess="client")
    with pytest.raises(SettingError, match="preprocess"):
        FeaturizerConfig(preprocess="gpu")  # type: ignore[arg-type]


def _classify(server: ServerHandle, svm: Path, paths: list[Path], *flags: str) -> list[dict]:
    result = run_cli(
        "classify",
        *map(str, paths),
        "--server",
        server.grpc_target,
        "--svm",
        str(svm),
        "--format",
        "jsonl",
        "--no-progress",
        *flags,
    )
    assert result.returncode in (0, 1), result.stderr
    return jsonl_records(result.stdout)


def test_classify_same_decisions_and_records_say_where(
    stand_in: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    extra = {
        name: data
        for name, data in _mixed_inputs().items()
        if name in FALLBACKS or name == "gray.jpg"
    }
    for name, data in extra.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"not really a jpeg" * 20)
    paths = [*car_photos(), *(tmp_path / name for name in [*extra, "broken.jpg"])]
    by_bytes = {r["path"]: r for r in _classify(stand_in, trained_svm, paths)}
    by_pixels = {
        r["path"]: r for r in _classify(stand_in, trained_svm, paths, "--preprocess", "client")
    }
    assert by_bytes.keys() == by_pixels.keys() and len(by_bytes) == len(paths)
    for path, record in by_bytes.items():
        other = by_pixels[path]
        assert other["status"] == record["status"] and other["label"] == record["label"], path
        if record["status"] != "OK":
            assert other["preprocessed"] is None and record["preprocessed"] is None
            continue
        assert abs(other["score"] - record["score"]) <= 1e-4 * max(1.0, abs(record["score"]))
        assert record["preprocessed"] == "server"
        fallback = Path(path).name in FALLBACKS
        assert other["preprocessed"] == ("server" if fallback else "client"), path
    broken = by_pixels[str(tmp_path / "broken.jpg")]
    assert broken["status"] == "INVALID_ARGUMENT"  # the server's verdict, as in server mode


def test_verify_checks_the_client_path_against_the_golden_inputs(
    stand_in: ServerHandle, model_base_path: Path, trained_svm: Path
) -> None:
    result = run_cli(
        "verify",
        "--server",
        stand_in.grpc_target,
        "--model-dir",
        str(model_base_path),
        "--svm",
        str(trained_svm),
        "--preprocess",
        "client",
        "--format",
        "json",
    )
    document = json.loads(result.stdout)
    assert result.returncode == 0 and document["ok"] is True, result.stdout + result.stderr
    golden = [c for c in document["checks"] if c["name"].startswith("golden ")]
    assert len(golden) == 5 and all(c["ok"] for c in golden)
    # The golden JPEGs took the client's path, the others (PNG, ...) went as bytes.
    details = " ".join(c["detail"] for c in golden)
    assert "preprocessed by the client" in details and "preprocessed by the server" in details


def test_loadtest_sends_pixels_in_client_mode(stand_in: ServerHandle, tmp_path: Path) -> None:
    output = tmp_path / "load.json"
    result = run_cli(
        "loadtest",
        "--server",
        stand_in.grpc_target,
        "--requests",
        "4",
        "--batch-size",
        "2",
        "--preprocess",
        "client",
        "--output",
        str(output),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(output.read_text())
    assert "OK" in json.dumps(report) and "INVALID_ARGUMENT" not in json.dumps(report)
