"""Client-side cost per image: Predict request build + response parse + ONNX SVM.

No server involved: this is the CPU the thin client spends around each call, measured on
the bundled photos and a realistic [N, 1001] float response. The SVM is timed as
``classify`` calls it, once per image (the batched call is reported beside it). Run with
``python -m tests.benchmarks.bench_client`` (needs the ``train`` extra to fit the SVM).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np

from inception_svm_client.commands.loadtest import load_images
from inception_svm_client.config import ModelTarget
from inception_svm_client.grpc import wire
from inception_svm_client.inputs import bundled_cars_dir
from inception_svm_client.protos import messages
from inception_svm_client.svm import _classifier as svm
from inception_svm_client.svm import _metadata as svm_metadata

FEATURE_DIM = 1001


def best_of(repeats: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def fitted_classifier(rng: np.random.Generator) -> svm.SvmClassifier:
    features = rng.normal(size=(20, FEATURE_DIM)).astype(np.float32)
    labels = ["classic", "modern"] * 10
    model, _ = svm.train(features, labels)
    metadata = svm_metadata.SvmMetadata(
        class_names=["classic", "modern"],
        feature_dim=FEATURE_DIM,
        featurizer=svm_metadata.FeaturizerInfo("inception_v1", 1, "serving_default"),
        training_set_size=20,
        trained_at="bench",
        sklearn_version="bench",
        loo_accuracy=None,
    )
    return svm.SvmClassifier(svm.export_onnx(model, metadata))


def measure(batch_size: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    photos = load_images(bundled_cars_dir())
    images = [photos[i % len(photos)] for i in range(batch_size)]
    logits = rng.normal(size=(batch_size, FEATURE_DIM)).astype(np.float32)
    response = messages.PredictResponse()
    response.outputs["logits"].CopyFrom(wire.numeric_tensor(logits))
    response_bytes = response.SerializeToString()
    spec = ModelTarget()
    classifier = fitted_classifier(rng)

    build_s = best_of(repeats, lambda: wire.encode_predict_request(spec, images))
    parse_s = best_of(repeats, lambda: wire.decode_predict_response(response_bytes, "logits"))
    svm_s = best_of(repeats, lambda: classifier.predict(logits))
    per_row_svm_s = best_of(repeats, lambda: [classifier.predict(row) for row in logits])
    us = 1e6 / batch_size
    return {
        "batch_size": batch_size,
        "request_bytes_per_image": len(wire.encode_predict_request(spec, images)) / batch_size,
        "build_us_per_image": build_s * us,
        "parse_us_per_image": parse_s * us,
        "svm_batched_us_per_image": svm_s * us,
        "svm_per_row_us_per_image": per_row_svm_s * us,
        "total_us_per_image": (build_s + parse_s + per_row_svm_s) * us,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.batch_size, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
