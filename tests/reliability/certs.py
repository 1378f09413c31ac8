"""Throwaway PKI for the TLS/mTLS tests, made with the ``openssl`` CLI.

Two independent CAs are generated: the trusted one signs the server and the legitimate
client; the rogue one signs a client that must be refused. Certificates never leave the
test's tmp dir, and the key contents are what the "no secrets in logs" check looks for.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_DAYS = "2"


@dataclass(frozen=True)
class TestPki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_client_cert: Path
    rogue_client_key: Path


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _generate_key(key: Path) -> None:
    """P-256 in PKCS#8 PEM: fast to make, and what gRPC's BoringSSL and TF Serving accept."""
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.name,
        cwd=key.parent,
    )  # fmt: skip


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _generate_key(key)
    _openssl(
        "req", "-x509", "-new", "-key", key.name, "-out", cert.name, "-days", _DAYS,
        "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return key, cert


def _make_leaf(
    directory: Path, name: str, ca: tuple[Path, Path], extensions: list[str]
) -> tuple[Path, Path]:
    key, cert, csr = directory / f"{name}.key", directory / f"{name}.crt", directory / f"{name}.csr"
    ext_file = directory / f"{name}.ext"
    ext_file.write_text("\n".join(extensions) + "\n")
    _generate_key(key)
    _openssl(
        "req", "-new", "-key", key.name, "-out", csr.name, "-subj", f"/CN={name}", cwd=directory
    )
    ca_key, ca_cert = ca
    _openssl(
        "x509", "-req", "-in", csr.name, "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", cert.name, "-days", _DAYS, "-extfile", ext_file.name,
        cwd=directory,
    )  # fmt: skip
    return key, cert


def make_test_pki(directory: Path) -> TestPki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = _make_ca(directory, "test-ca")
    rogue_ca = _make_ca(directory, "rogue-ca")
    server_key, server_cert = _make_leaf(
        directory,
        "server",
        ca,
        ["subjectAltName=DNS:localhost,IP:127.0.0.1", "extendedKeyUsage=serverAuth"],
    )
    client_key, client_cert = _make_leaf(directory, "client", ca, ["extendedKeyUsage=clientAuth"])
    rogue_key, rogue_cert = _make_leaf(
        directory, "rogue-client", rogue_ca, ["extendedKeyUsage=clientAuth"]
    )
    return TestPki(
        ca_cert=ca[1],
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
