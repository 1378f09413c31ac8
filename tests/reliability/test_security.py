"""Transport security and integrity of the artefacts the pipeline trusts.

TLS/mTLS use a throwaway PKI made in the test (``certs.py``). Integrity: a checkpoint or an
ONNX file with the wrong sha256 is refused before use, and an SVM trained on another
featurizer's features is refused before a single image is classified (its scores would be
silently meaningless). Secrets (private keys) must never reach a log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from inception_svm_client.config import TlsConfig
from inception_svm_client.svm._classifier import sha256_file
from tests.harness import ServerHandle, running_server
from tests.local_http import serve_directory
from tests.paths import car_photos
from tests.reliability.certs import TestPki, make_test_pki, ssl_config_text
from tests.reliability.cli import jsonl_records, run_cli
from tests.serving_calls import predict, predict_request, string_tensor
from tests.svm_files import retagged_svm


def _key_body(path: Path) -> str:
    """The base64 body of a PEM key: what would leak if a key were logged."""
    lines = path.read_text().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


# -- ONNX integrity ----------------------------------------------------------------------


def test_svm_with_wrong_sha256_is_refused_before_classifying(
    batching_server: ServerHandle, trained_svm: Path
) -> None:
    photo = str(car_photos()[0])
    common = ("--server", batching_server.grpc_target, "--svm", str(trained_svm))
    refused = run_cli("classify", photo, *common, "--svm-sha256", "0" * 64)
    assert refused.returncode == 2, refused.stderr
    assert "sha256" in refused.stderr and jsonl_records(refused.stdout) == []
    accepted = run_cli("classify", photo, *common, "--svm-sha256", sha256_file(trained_svm))
    assert accepted.returncode == 0, accepted.stderr


def test_svm_for_another_featurizer_is_refused_before_classifying(
    batching_server: ServerHandle, trained_svm: Path, tmp_path: Path
) -> None:
    foreign = retagged_svm(
        trained_svm, tmp_path / "foreign.onnx", featurizer_model_name="resnet_50"
    )
    result = run_cli(
        "classify", str(car_photos()[0]), "--server", batching_server.grpc_target,
        "--svm", str(foreign),
    )  # fmt: skip
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "resnet_50" in result.stderr and jsonl_records(result.stdout) == []


# -- checkpoint integrity ----------------------------------------------------------------


@pytest.fixture
def checkpoint_url(random_checkpoint_v1: Path) -> Iterator[str]:
    """Serve the checkpoint over plain HTTP on localhost, as a mirror would."""
    with serve_directory(random_checkpoint_v1.parent) as url:
        yield f"{url}/{random_checkpoint_v1.name}"


def test_downloaded_checkpoint_with_wrong_sha256_is_refused(
    checkpoint_url: str, tmp_path: Path
) -> None:
    model_dir = tmp_path / "models"
    result = run_cli(
        "export", "--checkpoint", checkpoint_url, "--sha256", "ab" * 32,
        "--model-dir", str(model_dir), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "sha256" in result.stderr
    assert not any(model_dir.glob("*/saved_model.pb")), "nothing may be exported"


# -- TLS / mTLS --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


def _secure_predict(
    target: str, pki: TestPki, *, cert: Path | None, key: Path | None
) -> grpc.StatusCode:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca_cert.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )
    photo = car_photos()[0].read_bytes()
    with grpc.secure_channel(target, credentials) as channel:
        return predict(channel, predict_request(string_tensor([photo])), timeout_s=60).code


def _assert_no_key_in(text: str, pki: TestPki) -> None:
    for key in (pki.server_key, pki.client_key):
        assert _key_body(key) not in text.replace("\n", "").replace("\\n", "")


def test_failed_tls_handshake_logs_no_key(
    batching_server: ServerHandle, trained_svm: Path, pki: TestPki
) -> None:
    """A client configured for mTLS against a plaintext server fails with exit 2, and its
    error output names the files involved but never their secret contents."""
    result = run_cli(
        "classify", str(car_photos()[0]), "--server", batching_server.grpc_target,
        "--svm", str(trained_svm), "--tls-ca", str(pki.ca_cert), "--tls-cert", str(pki.client_cert),
        "--tls-key", str(pki.client_key), "--max-attempts", "1", "--deadline", "10",
    )  # fmt: skip
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.strip(), "the failure must be explained"
    _assert_no_key_in(result.stdout + result.stderr, pki)


def test_tls_server_accepts_tls_clients_and_logs_no_key(
    model_base_path: Path, pki: TestPki, tmp_path: Path
) -> None:
    config = tmp_path / "ssl.config"
    config.write_text(ssl_config_text(pki, client_verify=False))
    with running_server(model_base_path, extra_flags=(f"--ssl_config_file={config}",)) as server:
        assert _secure_predict(server.grpc_target, pki, cert=None, key=None) == grpc.StatusCode.OK
        with grpc.insecure_channel(server.grpc_target) as plain:
            photo = car_photos()[0].read_bytes()
            outcome = predict(plain, predict_request(string_tensor([photo])), timeout_s=10)
            assert outcome.code == grpc.StatusCode.UNAVAILABLE
        _assert_no_key_in(server.log_tail(), pki)


def test_mtls_refuses_clients_without_a_valid_certificate(
    model_base_path: Path, pki: TestPki, tmp_path: Path, trained_svm: Path
) -> None:
    config = tmp_path / "ssl.config"
    config.write_text(ssl_config_text(pki, client_verify=True))
    client = TlsConfig(
        root_cert=pki.ca_cert, client_cert=pki.client_cert, client_key=pki.client_key
    )
    flags = (f"--ssl_config_file={config}",)
    with running_server(model_base_path, extra_flags=flags, tls=client) as server:
        target = server.grpc_target
        assert _secure_predict(target, pki, cert=pki.client_cert, key=pki.client_key) == (
            grpc.StatusCode.OK
        )
        assert _secure_predict(target, pki, cert=None, key=None) == grpc.StatusCode.UNAVAILABLE
        rogue = _secure_predict(target, pki, cert=pki.rogue_client_cert, key=pki.rogue_client_key)
        assert rogue == grpc.StatusCode.UNAVAILABLE
        # The real client, end to end, with the same certificates and flags a user passes.
        tls = ("--tls-ca", str(pki.ca_cert), "--tls-server-name", "localhost")
        ok = run_cli(
            "classify", str(car_photos()[0]), "--server", target, "--svm", str(trained_svm),
            *tls, "--tls-cert", str(pki.client_cert), "--tls-key", str(pki.client_key),
        )  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        refused = run_cli(
            "classify", str(car_photos()[0]), "--server", target, "--svm", str(trained_svm),
            *tls, "--max-attempts", "1",
        )  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        _assert_no_key_in(server.log_tail() + ok.stderr + refused.stderr, pki)
