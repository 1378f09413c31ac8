"""The one typed home of the exporter's settings; the CLI converts argparse into this."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Literal

from inception_svm_export.exceptions import ExportSettingError

OFFICIAL_CHECKPOINT_URL = "https://download.tensorflow.org/models/inception_v1_2016_08_28.tar.gz"
DEFAULT_CACHE_DIR = Path("~/.cache/inception-svm").expanduser()

# fp32: exact (matches TF-Slim to float rounding). bf16: conv units in bfloat16, about 2x
# faster on CPUs with AVX512-BF16/AMX, float32 inputs and logits (see precision.py).
Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExportConfig:
    """Everything one export needs."""

    checkpoint: str
    model_dir: Path
    version: int | None = None
    fold_batchnorm: bool = True
    precision: Precision = "fp32"
    sha256: str | None = None
    cache_dir: Path = DEFAULT_CACHE_DIR
    show_progress: bool = True
    # The BatchingParameters files of the servers that will serve this export: warmup
    # records are written for every batch size they can execute, capped at the smallest
    # max_batch_size so that every one of them can replay them (empty: sizes 1 and 3).
    warmup_batching_parameters: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.version is not None and self.version < 1:
            raise ExportSettingError(
                "{version} must be a positive integer, got {got}", got=self.version
            )
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256):
            raise ExportSettingError("{sha256} must be 64 hex digits, got {got!r}", got=self.sha256)
        if self.precision not in PRECISIONS:
            raise ExportSettingError(
                "unsupported {precision} {got!r}; expected one of {choices}",
                got=self.precision,
                choices=", ".join(PRECISIONS),
            )
