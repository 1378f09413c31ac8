"""What a served model and each of its answers must satisfy, whatever the transport.

The thread-based ``Featurizer`` and the asyncio ``AsyncFeaturizer`` make their calls
differently but must refuse exactly the same things: a signature that does not take
encoded images or return logits of the SVM's width, a model or signature the SVM was not
trained on, and any response from another model or version. Keeping those checks here
(and only here) is what makes the two clients' guarantees the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from inception_svm_client.config import ChannelConfig, FeaturizerConfig, ModelTarget
from inception_svm_client.contract import MODEL_NAME
from inception_svm_client.exceptions import (
    ClientError,
    ErrorCode,
    SignatureMismatchError,
)
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._pixels import (
    PIXELS_SHAPE,
    RequestPart,
    merge_parts,
    pixels_target,
)
from inception_svm_client.grpc._resolver import Features
from inception_svm_client.grpc._retry import RetryBudget
from inception_svm_client.preprocessing import Preprocess
from inception_svm_client.protos.messages import GET_MODEL_METADATA_METHOD, PREDICT_METHOD

if TYPE_CHECKING:
    from inception_svm_client.svm._metadata import SvmMetadata

# The model names a server is usually started with: ours and TF Serving's own default.
USUAL_MODEL_NAMES = (MODEL_NAME, "default")


@dataclass(frozen=True)
class BatchResponse:
    """Logits of one Predict call plus where the client-side time went."""

    features: np.ndarray
    encode_s: float
    rpc_s: float
    decode_s: float
    model_version: int | None = None
    model_name: str = ""
    # Per image, where it became the network's input ("client" or "server").
    preprocessed: tuple[Preprocess, ...] = ()


def check_signature(signature: wire.ServedSignature, config: FeaturizerConfig) -> int:
    """The served signature must take encoded images and return logits [-1, D]; returns D."""
    spec = config.target
    where = (
        f"model {signature.model_name!r} version {signature.model_version} "
        f"signature {signature.signature_name!r}"
    )
    image_input = signature.inputs.get(spec.input_name)
    if image_input is None:
        raise SignatureMismatchError(
            f"{where} has no input {spec.input_name!r} (inputs: {sorted(signature.inputs)})"
        )
    if image_input.dtype != wire.DT_STRING:
        raise SignatureMismatchError(
            f"{where} input {spec.input_name!r} is {image_input.describe()}, "
            "expected DT_STRING (encoded image bytes)"
        )
    logits = signature.outputs.get(spec.output_name)
    if logits is None:
        raise SignatureMismatchError(
            f"{where} has no output {spec.output_name!r} (outputs: {sorted(signature.outputs)})"
        )
    shape = logits.shape
    if logits.dtype != wire.DT_FLOAT or shape is None or len(shape) != 2 or shape[1] < 1:
        raise SignatureMismatchError(
            f"{where} output {spec.output_name!r} is {logits.describe()}, expected DT_FLOAT [-1, D]"
        )
    return shape[1]


def pinned_config(config: FeaturizerConfig, svm: SvmMetadata | None) -> FeaturizerConfig:
    """Requests name the SVM's model version unless the caller chose one (or ``latest``):
    TF Serving keeps serving a pinned version while its version policy retains it, so a
    new version rolled out mid-stream cannot silently change the features."""
    spec = config.target
    if svm is None or svm.featurizer.model_version is None:
        return config
    if spec.version is not None or spec.version_label is not None or spec.latest:
        return config
    return replace(config, target=replace(spec, version=svm.featurizer.model_version))


def served_signature(
    data: bytes,
    config: FeaturizerConfig,
    expected_feature_dim: int | None,
    svm: SvmMetadata | None,
) -> wire.ServedSignature:
    """The signature in a GetModelMetadata response, checked against the expected feature
    dimension and the SVM's model and signature."""
    spec = config.target
    try:
        signature = wire.decode_metadata_response(data, spec.signature_name)
    except wire.MissingSignatureError as error:
        raise SignatureMismatchError(str(error)) from error
    except ValueError as error:  # unparseable, as for Predict
        raise ClientError(ErrorCode.BAD_RESPONSE, str(error)) from error
    dim = check_signature(signature, config)
    if expected_feature_dim is not None and dim != expected_feature_dim:
        raise SignatureMismatchError(
            f"model {signature.model_name!r} version {signature.model_version} "
            f"outputs {spec.output_name!r} with {dim} features "
            f"but the SVM expects {expected_feature_dim}"
        )
    if svm is not None:
        svm.featurizer.check_served(
            signature.model_name or spec.model_name,
            signature.signature_name,
            signature.model_version,
        )
    if config.preprocess == "client":
        check_pixels_signature(data, spec, dim)
    return signature


def check_pixels_signature(data: bytes, spec: ModelTarget, dim: int) -> None:
    """``--preprocess client`` sends pixels to ``predict_pixels``: the model must serve it
    with the export's input shape and logits as wide as the signature the SVM expects."""
    target = pixels_target(spec)
    hint = "; use --preprocess server"
    try:
        pixels = wire.decode_metadata_response(data, target.signature_name)
    except wire.MissingSignatureError as error:
        raise SignatureMismatchError(f"{error}{hint}") from error
    pixel_input = pixels.inputs.get(target.input_name)
    logits = pixels.outputs.get(target.output_name)
    shape = PIXELS_SHAPE
    if pixel_input is None or pixel_input.dtype != wire.DT_FLOAT or pixel_input.shape != shape:
        got = "nothing" if pixel_input is None else pixel_input.describe()
        raise SignatureMismatchError(
            f"signature {target.signature_name!r} input {target.input_name!r} is {got}, "
            f"expected DT_FLOAT {list(shape)}{hint}"
        )
    if logits is None or logits.shape is None or logits.shape[1:] != (dim,):
        got = "missing" if logits is None else logits.describe()
        raise SignatureMismatchError(
            f"signature {target.signature_name!r} output {target.output_name!r} is {got}, "
            f"expected [-1, {dim}]{hint}"
        )


def hint_probes(spec: ModelTarget) -> list[tuple[str, bytes]]:
    """(model name, metadata request) pairs to probe after a NOT_FOUND: TF Serving has no
    "list models" call, so the client asks for the names a server is usually started with."""
    names = dict.fromkeys((spec.model_name, *USUAL_MODEL_NAMES))
    return [
        (
            name,
            wire.encode_metadata_request(
                replace(spec, model_name=name, version=None, version_label=None, latest=False)
            ),
        )
        for name in names
    ]


def not_found_hint(spec: ModelTarget, served: Sequence[str], for_svm: bool) -> str:
    """What to append to a NOT_FOUND, given which of the probed names the server serves."""
    if spec.version is not None and spec.model_name in served:
        return (
            f" (the server serves model {spec.model_name!r} but not version {spec.version}"
            f"{', the version the SVM was trained on' if for_svm else ''}; "
            "--model-version latest uses whatever version it serves, and flags records "
            "from another version)"
        )
    hint = f" (the server serves: {', '.join(map(repr, served))})" if served else ""
    if "default" in served:
        hint += (
            "; TF Serving names its model 'default' when started without --model_name: "
            "pass --model-name default, or start it with --model_name "
            f"{spec.model_name}"
        )
    return hint


def timed_response(
    decode: Callable[[bytes, int], wire.PredictOutput],
    data: bytes | Sequence[bytes],
    batch_size: int,
    started: float,
    encoded: float,
    answered: float,
    now: Callable[[], float],
    parts: Sequence[RequestPart] | None = None,
) -> BatchResponse:
    """Decode a Predict response (raising BAD_RESPONSE for one that does not parse) and
    record where the client-side time went; with ``parts``, ``data`` holds their answers,
    merged back in input order (``--preprocess client``)."""
    preprocessed: tuple[Preprocess, ...] = ()
    try:
        if parts is None:
            assert isinstance(data, bytes)
            output = decode(data, batch_size)
        else:
            assert not isinstance(data, bytes)
            output, preprocessed = merge_parts(decode, parts, data, batch_size)
    except ValueError as error:
        raise ClientError(ErrorCode.BAD_RESPONSE, str(error)) from error
    return BatchResponse(
        preprocessed=preprocessed,
        features=output.logits,
        encode_s=encoded - started,
        rpc_s=answered - encoded,
        decode_s=now() - answered,
        model_version=output.model_version,
        model_name=output.model_name,
    )


def checked_features(
    response: BatchResponse, spec: ModelTarget, expected_feature_dim: int | None
) -> Features:
    """Every response, not only the first metadata call, must come from the model and
    version asked for and have the width the SVM takes; anything else would classify
    features of another model."""
    where = f"model {response.model_name or spec.model_name!r} version {response.model_version}"
    if response.model_name and response.model_name != spec.model_name:
        raise ClientError(ErrorCode.BAD_RESPONSE, f"asked {spec.model_name!r}, {where} answered")
    expected = expected_feature_dim
    if expected is not None and response.features.shape[1] != expected:
        raise ClientError(
            ErrorCode.BAD_RESPONSE,
            f"{where} answered {response.features.shape[1]} features, the SVM expects {expected}",
        )
    if (
        spec.version is not None
        and response.model_version is not None
        and response.model_version != spec.version
    ):
        raise ClientError(
            ErrorCode.MODEL_VERSION_MISMATCH, f"asked for version {spec.version}, {where} answered"
        )
    return Features(response.features, response.model_version, response.preprocessed)


class ModelClientBase:
    """What the sync and the asyncio featurizer share: the config pinned to the SVM, the
    feature width every response must have, the two PredictionService stubs (both channel
    kinds offer ``unary_unary``) and ``connect``. A subclass names its channel factory and
    the lock that guards its cached signature."""

    _open_channel: Callable[[ChannelConfig], Any]
    _lock_type: Callable[[], Any]

    def __init__(
        self,
        channel: Any,
        config: FeaturizerConfig | None = None,
        *,
        expected_feature_dim: int | None = None,
        svm: SvmMetadata | None = None,
        owns_channel: bool = False,
        on_outage: Callable[[ClientError], None] | None = None,
    ) -> None:
        """``on_outage(error)``: called when the server stops answering and retries begin
        (the CLI prints it), once per outage."""
        self.config = pinned_config(config or FeaturizerConfig(), svm)
        self.svm = svm
        self.on_outage = on_outage
        if expected_feature_dim is None and svm is not None:
            expected_feature_dim = svm.feature_dim
        self._expected_feature_dim = expected_feature_dim
        self._channel = channel
        self._owns_channel = owns_channel
        self._predict: Any = channel.unary_unary(PREDICT_METHOD)
        self._metadata: Any = channel.unary_unary(GET_MODEL_METADATA_METHOD)
        self._signature: wire.ServedSignature | None = None
        self._lock = self._lock_type()

    @classmethod
    def connect(
        cls,
        channel_config: ChannelConfig,
        config: FeaturizerConfig | None = None,
        *,
        expected_feature_dim: int | None = None,
        svm: SvmMetadata | None = None,
        on_outage: Callable[[ClientError], None] | None = None,
    ) -> Self:
        """A client on a channel of its own, closed with the client. The asyncio client
        must be connected inside the event loop that uses it."""
        return cls(
            cls._open_channel(channel_config),
            config,
            expected_feature_dim=expected_feature_dim,
            svm=svm,
            owns_channel=True,
            on_outage=on_outage,
        )

    def decode_output(self, data: bytes, batch_size: int) -> wire.PredictOutput:
        """One row per image from a Predict response; a subclass may return richer rows
        (``ImagenetClient``) and still reuse batching, retries and bisection."""
        return wire.decode_predict(data, self.config.target.output_name, batch_size)

    def checked(self, response: BatchResponse) -> Features:
        """See ``checked_features``."""
        return checked_features(response, self.config.target, self._expected_feature_dim)

    def _budget(self) -> RetryBudget:
        """One retry clock for a whole stream (see ``RetryPolicy``)."""
        return RetryBudget(self.config.retry, on_outage=self.on_outage)
