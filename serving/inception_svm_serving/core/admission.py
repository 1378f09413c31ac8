"""Admission control: the work a request may cause is bounded before any of it is done.

A request is measured (images, and decoded pixels read from the image headers) and refused
with INVALID_ARGUMENT when it alone exceeds a per-request limit: retrying cannot help, and the
client splits such a batch. Otherwise it waits, at most ``admission_timeout_s``, until the
images and pixels of every admitted request together fit the in-flight limits, and gets
RESOURCE_EXHAUSTED (retryable) if they do not in time. So N concurrent callers cannot
multiply the peak decoding memory: it is bounded by the in-flight limits, not by N.

After large work the freed heap is handed back to the OS (memory.HeapTrimmer) in the first
pause, so RSS returns towards its baseline instead of staying at the peak; admitted work holds
the trim off while it runs, so steady traffic keeps its pages.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from inception_svm_serving._exceptions import InvalidArgument, ResourceExhausted
from inception_svm_serving.config.options import RequestLimits
from inception_svm_serving.core.memory import HeapTrimmer

ImageSizes = Callable[[np.ndarray], list[tuple[int, int]]]  # (width, height) per element
# Ask for a heap trim once this much was decoded since the last one; it runs in the next pause
# (memory.HeapTrimmer), so a large request leaves RSS near its baseline once traffic stops.
_TRIM_AFTER_PIXELS = 32 * 1024 * 1024
_TRIM_AFTER_IMAGES = 256


def _rows(inputs: Mapping[str, np.ndarray]) -> int:
    return max((int(v.shape[0]) if v.ndim else 1 for v in inputs.values()), default=0)


def _is_bytes(array: np.ndarray) -> bool:
    return array.dtype == object or array.dtype.kind == "S"


class Admission:
    def __init__(
        self,
        limits: RequestLimits,
        image_sizes: ImageSizes,
        heap: HeapTrimmer | None = None,
    ) -> None:
        self._limits = limits
        self._image_sizes = image_sizes
        self._heap = heap
        self._room = threading.Condition()
        self._images = 0
        self._pixels = 0
        self._since_trim = (0, 0)  # (images, pixels) admitted since the heap was last trimmed

    def measure(self, inputs: Mapping[str, np.ndarray]) -> tuple[int, int]:
        """(images, decoded pixels) of a request; INVALID_ARGUMENT naming the limit it
        exceeds on its own."""
        limits = self._limits
        images = _rows(inputs)
        if images > limits.max_request_batch_size:
            raise InvalidArgument(
                f"request has {images} images; the limit is {limits.max_request_batch_size} "
                "per request (max_request_batch_size): split it into smaller requests"
            )
        sizes = [size for v in inputs.values() if _is_bytes(v) for size in self._image_sizes(v)]
        pixels = sum(width * height for width, height in sizes)
        if pixels > limits.max_request_pixels:
            index = max(range(len(sizes)), key=lambda i: sizes[i][0] * sizes[i][1])
            width, height = sizes[index]
            raise InvalidArgument(
                f"request decodes to {pixels} pixels (largest: image {index}, "
                f"{width}x{height}); the limit is {limits.max_request_pixels} pixels per "
                "request (max_request_pixels): send fewer or smaller images per request"
            )
        return images, pixels

    @contextlib.contextmanager
    def admit(self, inputs: Mapping[str, np.ndarray]) -> Iterator[None]:
        """Hold the request's share of the in-flight limits while it runs."""
        images, pixels = self.measure(inputs)
        limits = self._limits

        def fits() -> bool:
            return (
                self._images + images <= limits.max_inflight_images
                and self._pixels + pixels <= limits.max_inflight_pixels
            )

        with self._room:
            if not self._room.wait_for(fits, timeout=limits.admission_timeout_s):
                raise ResourceExhausted(
                    f"server busy: {self._images} images / {self._pixels} pixels in flight, "
                    f"limits {limits.max_inflight_images} images (max_inflight_images) and "
                    f"{limits.max_inflight_pixels} pixels (max_inflight_pixels); retry later"
                )
            self._images += images
            self._pixels += pixels
            seen_images, seen_pixels = self._since_trim
            self._since_trim = (seen_images + images, seen_pixels + pixels)
        try:
            with self._heap.working() if self._heap else contextlib.nullcontext():
                yield
        finally:
            self._leave(images, pixels)

    def _leave(self, images: int, pixels: int) -> None:
        with self._room:
            self._images -= images
            self._pixels -= pixels
            self._room.notify_all()
            seen_images, seen_pixels = self._since_trim
            trim = seen_images >= _TRIM_AFTER_IMAGES or seen_pixels >= _TRIM_AFTER_PIXELS
            if trim:
                self._since_trim = (0, 0)
        if trim and self._heap is not None:
            self._heap.request()
