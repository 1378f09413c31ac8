"""Prove that a running endpoint serves what was exported: the checks of ``verify``.

Each check yields one ``Check``; a check that fails does not stop the others, so one run
says everything that is wrong. Only when the server cannot be asked at all (nothing
listening, deadline exceeded) does ``VerifyAborted`` end the run: that is "could not
verify", not "verified wrong", and the command exits 2 instead of 1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import grpc
import numpy as np

from inception_svm_client.exceptions import (
    ClientError,
    ErrorCode,
    SignatureMismatchError,
    VerifyAborted,
    from_rpc_error,
)
from inception_svm_client.grpc import wire
from inception_svm_client.grpc._featurizer import Featurizer
from inception_svm_client.grpc._imagenet import CAT_CLASSES, cat_top_k, is_official
from inception_svm_client.protos.messages import GET_MODEL_STATUS_METHOD
from inception_svm_client.svm._classifier import SvmClassifier
from inception_svm_client.verify.golden import Golden, GoldenInput

# The server cannot be reached at all, or the address is no gRPC server (the REST port, a
# TLS mismatch): the run says nothing about what it serves, and exits 2 as classify does.
UNREACHABLE_CODES = frozenset(
    {
        ErrorCode.UNAVAILABLE,
        ErrorCode.DEADLINE_EXCEEDED,
        ErrorCode.WRONG_PORT,
        ErrorCode.TLS_HANDSHAKE_FAILED,
    }
)
LATENCY_SAMPLES = 10


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # False for a check that does not apply to this server (it does not fail the run, and
    # is shown as N/A rather than PASS, so "passed" never counts what was not checked).
    applicable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "applicable": self.applicable,
            "detail": self.detail,
        }


def _abort_if_unreachable(error: ClientError) -> None:
    if error.code in UNREACHABLE_CODES:
        raise VerifyAborted(error) from error


class Verifier:
    """Runs the checks of one golden file (and optionally one SVM) against one server."""

    def __init__(
        self,
        featurizer: Featurizer,
        channel: grpc.Channel,
        golden: Golden,
        svm: SvmClassifier | None = None,
        latency_samples: int = LATENCY_SAMPLES,
    ) -> None:
        self._featurizer = featurizer
        self._status: Any = channel.unary_unary(GET_MODEL_STATUS_METHOD)
        self._golden = golden
        self._svm = svm
        self._latency_samples = latency_samples
        self._served: dict[str, np.ndarray] = {}
        self._served_version: int | None = None

    def checks(self) -> Iterator[Check]:
        yield self._model_available()
        yield self._metadata()
        for item in self._golden.inputs:
            yield self._golden_input(item)
        if self._svm is not None and self._svm.metadata.features != self._golden.output_name:
            yield from self._svm_other_features(self._svm)
        elif self._svm is not None:
            yield self._svm_featurizer(self._svm)
            yield self._svm_decisions(self._svm)
        yield self._imagenet_cat()
        yield self._latency()

    # -- checks --------------------------------------------------------------------------

    def _model_available(self) -> Check:
        spec = self._featurizer.config.target
        name = "model available"
        try:
            data = self._status(
                wire.encode_status_request(spec), timeout=self._featurizer.config.deadline_s
            )
        except grpc.RpcError as error:
            client_error = from_rpc_error(error, f"GetModelStatus of {spec.model_name!r}")
            _abort_if_unreachable(client_error)
            return Check(name, False, str(client_error))
        try:
            statuses = wire.decode_status_response(data)
        except ValueError as error:
            return Check(name, False, f"unreadable GetModelStatus reply: {error}")
        listed = ", ".join(f"{s.version} {s.state}" for s in statuses) or "no versions"
        available = [s.version for s in statuses if s.state == "AVAILABLE"]
        if not available:
            errors = "".join(f"; {s.error_message}" for s in statuses if s.error_message)
            return Check(name, False, f"no version AVAILABLE ({listed}){errors}")
        return Check(name, True, f"{spec.model_name!r}: {listed}")

    def _metadata(self) -> Check:
        name = "metadata"
        golden = self._golden
        try:
            signature = self._featurizer.fetch_signature()
        except SignatureMismatchError as error:
            return Check(name, False, error.details)
        except ClientError as error:
            _abort_if_unreachable(error)
            return Check(name, False, str(error))
        self._served_version = signature.model_version
        io = (
            f"{golden.input_name} {signature.inputs[golden.input_name].describe()} -> "
            f"{golden.output_name} {signature.outputs[golden.output_name].describe()}"
        )
        where = (
            f"model {signature.model_name!r} version {signature.model_version} "
            f"signature {signature.signature_name!r}: {io}"
        )
        exported = golden.identity.version
        if signature.model_version != exported:
            return Check(
                name,
                False,
                f"{where}; but the golden outputs are of version {exported}: "
                "the server serves another (or a stale) version",
            )
        return Check(name, True, where)

    def _golden_input(self, item: GoldenInput) -> Check:
        name = f"golden {item.name}"
        try:
            response = self._featurizer.predict_with_retry([item.data])
            served = response.features[0]
        except ClientError as error:
            _abort_if_unreachable(error)
            return Check(name, False, str(error))
        self._served[item.name] = served
        allowed = self._golden.tolerance.allowed(item.logits)
        if served.shape != item.logits.shape:
            return Check(name, False, f"{served.shape[0]} logits, golden has {item.logits.size}")
        diff = np.abs(served.astype(np.float64) - item.logits.astype(np.float64))
        worst = int(np.argmax(diff))
        top = (
            f"top-1 {int(np.argmax(served))}"
            if np.argmax(served) == np.argmax(item.logits)
            else f"top-1 {int(np.argmax(served))}, golden {int(np.argmax(item.logits))}"
        )
        detail = f"max |diff| {diff[worst]:.3g} (logit {worst}), allowed {allowed:.3g}; {top}"
        if response.preprocessed:  # --preprocess client: say which path this input took
            detail += f"; preprocessed by the {response.preprocessed[0]}"
        return Check(name, bool(diff[worst] <= allowed), detail)

    def _svm_featurizer(self, svm: SvmClassifier) -> Check:
        """The SVM's recorded model, signature and version must be what is served: unlike
        ``classify`` (which only warns), another version is a failed check here."""
        name = "svm featurizer"
        info = svm.metadata.featurizer
        spec = self._featurizer.config.target
        detail = (
            f"trained on {info.model_name!r} version {info.model_version} "
            f"{info.signature_name!r}, served {spec.model_name!r} version "
            f"{self._served_version} {spec.signature_name!r}"
        )
        try:
            info.check_served(spec.model_name, spec.signature_name, self._served_version)
        except SignatureMismatchError:
            return Check(name, False, detail)
        if svm.metadata.feature_dim != self._golden.feature_dim:
            return Check(
                name,
                False,
                f"{detail}; it takes {svm.metadata.feature_dim} features, "
                f"the model gives {self._golden.feature_dim}",
            )
        return Check(name, info.model_version == self._served_version, detail)

    def _svm_other_features(self, svm: SvmClassifier) -> Iterator[Check]:
        """An SVM on other features than the golden outputs' (pre-logits): its own
        signature is checked and fed the golden images; the golden file holds logits only,
        so its labels are shown, not compared."""
        info = svm.metadata.featurizer
        target = replace(
            self._featurizer.config.target,
            signature_name=info.signature_name,
            output_name=svm.metadata.features,
        )
        featurizer = Featurizer(
            self._featurizer.channel,
            replace(self._featurizer.config, target=target),
            svm=svm.metadata,
        )
        try:
            served = featurizer.fetch_signature()
        except ClientError as error:
            _abort_if_unreachable(error)
            yield Check("svm featurizer", False, error.details)
            yield Check("svm decisions", False, "the SVM's signature cannot feed it")
            return
        yield Check(
            "svm featurizer",
            True,
            f"trained on {info.model_name!r} version {info.model_version} "
            f"{info.signature_name!r} ({svm.metadata.features}, {svm.metadata.feature_dim}-d), "
            f"served version {served.model_version}",
        )
        try:
            features = featurizer.predict_with_retry(
                [item.data for item in self._golden.inputs]
            ).features
        except ClientError as error:
            _abort_if_unreachable(error)
            yield Check("svm decisions", False, str(error))
            return
        labels = ", ".join(p.label for p in svm.predict(features))
        yield Check(
            "svm decisions",
            True,
            f"{len(features)} golden inputs classified through {info.signature_name!r} "
            f"({labels}); the golden file holds logits only, so labels are not compared",
        )

    def _svm_decisions(self, svm: SvmClassifier) -> Check:
        name = "svm decisions"
        items = [item for item in self._golden.inputs if item.name in self._served]
        if not items or svm.metadata.feature_dim != self._golden.feature_dim:
            return Check(name, False, "no served logits the SVM can take")
        expected = svm.predict(np.stack([item.logits for item in items]))
        actual = svm.predict(np.stack([self._served[item.name] for item in items]))
        differing = [
            f"{item.name}: {want.label} -> {got.label}"
            for item, want, got in zip(items, expected, actual, strict=True)
            if want.label != got.label
        ]
        if differing:
            return Check(name, False, "different labels: " + "; ".join(differing))
        labels = ", ".join(p.label for p in expected)
        return Check(name, True, f"same labels on {len(items)} golden inputs ({labels})")

    def _imagenet_cat(self) -> Check:
        """The original demo's first check: with the official weights the cat photo's
        top-5 holds a cat class. Other weights (random, fine-tuned) make it meaningless,
        and the check says it does not apply rather than pass or fail."""
        name = "imagenet cat"
        try:
            record = cat_top_k(self._featurizer)
        except ClientError as error:
            _abort_if_unreachable(error)
            if error.code == "FAILED_PRECONDITION":  # an export without the signature
                return Check(name, True, f"not applicable: {error.details}", applicable=False)
            return Check(name, False, str(error))
        top = ", ".join(f"{c.index} {c.name.split(',')[0]}" for c in record.classes)
        if not is_official(record.checkpoint):
            return Check(
                name, True, f"not applicable: {record.checkpoint}; top-5 {top}", applicable=False
            )
        cats = [c for c in record.classes if c.index in CAT_CLASSES]
        return Check(name, bool(cats), f"official weights; top-5 {top}")

    def _latency(self) -> Check:
        name = "latency"
        data = self._golden.inputs[0].data
        seconds = []
        try:
            for _ in range(self._latency_samples):
                started = time.perf_counter()
                self._featurizer.predict([data])
                seconds.append(time.perf_counter() - started)
        except ClientError as error:
            _abort_if_unreachable(error)
            return Check(name, False, str(error))
        ms = np.array(seconds) * 1000
        return Check(
            name,
            True,
            f"{len(ms)} single-image Predict calls: p50 {np.median(ms):.1f} ms, "
            f"max {ms.max():.1f} ms",
        )
