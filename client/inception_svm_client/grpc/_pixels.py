"""Predict requests for one batch, with ``--preprocess client``: pixels where they are exact.

In client mode each image of a batch is tried with ``preprocessing.client_pixels``; those it
turns into the export's exact network input go, stacked, to ``predict_pixels`` (float32,
the signature every export has), the rest (other formats, CMYK, corrupt or oversized files)
go as bytes to the configured signature, so the server decodes and judges them as before.
A batch is thus one or two Predict calls; ``merge_parts`` puts the rows back in input order
and says, per image, where it was preprocessed.

Why float32 and not a compact signature: uint8 after the resize is lossy (the resize runs in
float before scaling) and float16 changes the logits too; ``make bench`` section 9 measures
both against the bytes path (docs/performance-gpu-feeding.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from inception_svm_client.config import ModelTarget
from inception_svm_client.contract import PIXELS_INPUT, PIXELS_SIGNATURE
from inception_svm_client.exceptions import ClientError, ErrorCode, WireError
from inception_svm_client.grpc import wire
from inception_svm_client.preprocessing import IMAGE_SIZE, Preprocess, client_pixels

CLIENT: Preprocess = "client"
SERVER: Preprocess = "server"
PIXELS_SHAPE = (-1, IMAGE_SIZE, IMAGE_SIZE, 3)


@dataclass(frozen=True)
class RequestPart:
    """One Predict request of a batch and the positions (in the batch) of its images."""

    request: bytes
    indices: tuple[int, ...]
    preprocessed: Preprocess


def pixels_target(spec: ModelTarget) -> ModelTarget:
    """The same model and version, asked through ``predict_pixels``: logits only."""
    return replace(spec, signature_name=PIXELS_SIGNATURE, input_name=PIXELS_INPUT, extra_outputs=())


def request_parts(
    spec: ModelTarget, images: Sequence[bytes], preprocess: Preprocess
) -> list[RequestPart]:
    """The Predict requests for ``images``: one with every image as bytes (server mode), or
    pixels for the images preprocessed here plus bytes for the others (client mode)."""
    if preprocess == SERVER:
        everything = tuple(range(len(images)))
        return [RequestPart(wire.encode_predict_request(spec, images), everything, SERVER)]
    pixels: list[np.ndarray] = []
    pixel_indices: list[int] = []
    byte_indices: list[int] = []
    for index, image in enumerate(images):
        input_pixels = client_pixels(image)
        if input_pixels is None:
            byte_indices.append(index)
        else:
            pixels.append(input_pixels)
            pixel_indices.append(index)
    parts = []
    if pixels:
        request = wire.encode_tensor_request(pixels_target(spec), np.stack(pixels))
        parts.append(RequestPart(request, tuple(pixel_indices), CLIENT))
    if byte_indices:
        request = wire.encode_predict_request(spec, [images[i] for i in byte_indices])
        parts.append(RequestPart(request, tuple(byte_indices), SERVER))
    return parts


def merge_parts(
    decode: Callable[[bytes, int], wire.PredictOutput],
    parts: Sequence[RequestPart],
    answers: Sequence[bytes],
    batch_size: int,
) -> tuple[wire.PredictOutput, tuple[Preprocess, ...]]:
    """The parts' rows back in input order, and where each image was preprocessed.

    The two calls of a batch could be answered by two versions while a new one rolls out;
    the batch is then refused as UNAVAILABLE, so the retry asks both again."""
    outputs = [
        decode(answer, len(part.indices)) for part, answer in zip(parts, answers, strict=True)
    ]
    if len({(output.model_name, output.model_version) for output in outputs}) > 1:
        raise ClientError(
            ErrorCode.UNAVAILABLE,
            "the pixels and the bytes of one batch were answered by different model versions",
        )
    if len(outputs) == 1:
        return outputs[0], (parts[0].preprocessed,) * batch_size
    width = outputs[0].logits.shape[1:]
    logits = np.empty((batch_size, *width), dtype=outputs[0].logits.dtype)
    where: list[Preprocess] = [SERVER] * batch_size
    for part, output in zip(parts, outputs, strict=True):
        if output.logits.shape[1:] != width:
            raise WireError("the pixels and the bytes of one batch gave different widths")
        logits[list(part.indices)] = output.logits
        for index in part.indices:
            where[index] = part.preprocessed
    return replace(outputs[0], logits=logits), tuple(where)
