"""Where the repository's files are, for every test; imports nothing heavy (the Kubernetes
tests use it without gRPC or TensorFlow)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVING_DIR = REPO_ROOT / "serving"
DATA_DIR = REPO_ROOT / "client" / "inception_svm_client" / "data"
CARS_DIR = DATA_DIR / "cars"


def training_photos() -> list[Path]:
    """The 20 labelled car photos (``train/<label>/*.jpg``), in a stable order."""
    return sorted((CARS_DIR / "train").glob("*/*.jpg"))


def unlabeled_photos() -> list[Path]:
    """The 7 unlabelled car photos, in a stable order."""
    return sorted((CARS_DIR / "unlabeled").glob("*.jpg"))


def car_photos() -> list[Path]:
    """All 27 bundled car photos: the unlabelled ones, then the labelled ones."""
    return unlabeled_photos() + training_photos()
