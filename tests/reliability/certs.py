"""Throwaway PKI for the TLS/mTLS tests, made in-process with ``trustme``.

Two independent CAs: the trusted one signs the server (for ``localhost`` and 127.0.0.1) and
the legitimate client; the rogue one signs a client that must be refused. The files never
leave the test's tmp dir, and the key contents are what the "no secrets in logs" check looks
for. trustme's ECDSA P-256 keys are what gRPC's BoringSSL and TF Serving accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

# The client certificates' identity (a subjectAltName): servers check the CA, not the name.
_CLIENT_IDENTITY = "client.inception-svm.test"


@dataclass(frozen=True)
class TestPki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_client_cert: Path
    rogue_client_key: Path


def _write_leaf(leaf: trustme.LeafCert, directory: Path, name: str) -> tuple[Path, Path]:
    """``name.key`` and ``name.crt`` (the leaf alone, as TF Serving's ssl_config expects)."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    leaf.private_key_pem.write_to_path(str(key))
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    return key, cert


def make_test_pki(directory: Path) -> TestPki:
    directory.mkdir(parents=True, exist_ok=True)
    ca, rogue_ca = trustme.CA(), trustme.CA()
    ca_cert = directory / "test-ca.crt"
    ca.cert_pem.write_to_path(str(ca_cert))
    server_key, server_cert = _write_leaf(
        ca.issue_cert("localhost", "127.0.0.1"), directory, "server"
    )
    client_key, client_cert = _write_leaf(ca.issue_cert(_CLIENT_IDENTITY), directory, "client")
    rogue_key, rogue_cert = _write_leaf(
        rogue_ca.issue_cert(_CLIENT_IDENTITY), directory, "rogue-client"
    )
    return TestPki(
        ca_cert=ca_cert,
        server_cert=server_cert,
        server_key=server_key,
        client_cert=client_cert,
        client_key=client_key,
        rogue_client_cert=rogue_cert,
        rogue_client_key=rogue_key,
    )


def ssl_config_text(pki: TestPki, *, client_verify: bool) -> str:
    """TF Serving's SSLConfig text proto (``--ssl_config_file``), PEM contents inline."""

    def quoted(path: Path) -> str:
        return '"' + path.read_text().replace("\n", "\\n") + '"'

    lines = [f"server_key: {quoted(pki.server_key)}", f"server_cert: {quoted(pki.server_cert)}"]
    if client_verify:
        lines += [f"custom_ca: {quoted(pki.ca_cert)}", "client_verify: true"]
    return "\n".join(lines) + "\n"
