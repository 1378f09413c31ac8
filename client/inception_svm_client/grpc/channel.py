"""Build the gRPC channel (threads or asyncio) to TF Serving: message limits, keepalive,
TLS/mTLS, round robin."""

from __future__ import annotations

import json
from collections.abc import Sequence

import grpc

from inception_svm_client.config import ChannelConfig, TlsConfig
from inception_svm_client.files import MAX_PEM_BYTES, read_bounded


def resolve_target(target: str) -> str:
    """``host:port`` → ``dns:///host:port`` so the DNS resolver (and round robin over every
    address it returns) is used; explicit schemes (``dns:``, ``ipv4:``, ``unix:``) pass."""
    if ":///" in target or target.startswith(("unix:", "ipv4:", "ipv6:", "dns:")):
        return target
    return f"dns:///{target}"


def channel_options(config: ChannelConfig) -> list[tuple[str, int | str]]:
    service_config: dict[str, object] = {
        "loadBalancingConfig": [{config.load_balancing_policy: {}}]
    }
    options: list[tuple[str, int | str]] = [
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.keepalive_time_ms", config.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", config.keepalive_timeout_ms),
        # Pings only while calls are active: servers (TF Serving included) answer pings on
        # idle connections with GOAWAY "too_many_pings" under default settings.
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.service_config", json.dumps(service_config)),
        # A GOAWAY at the server's max connection age makes round_robin re-resolve the name,
        # so pods added behind a headless Service get traffic from clients already running.
        (
            "grpc.dns_min_time_between_resolutions_ms",
            config.dns_min_time_between_resolutions_ms,
        ),
        # Our own retry loop (with bisection on INVALID_ARGUMENT) replaces gRPC's.
        ("grpc.enable_retries", 0),
        ("grpc.initial_reconnect_backoff_ms", config.initial_reconnect_backoff_ms),
        ("grpc.max_reconnect_backoff_ms", config.max_reconnect_backoff_ms),
    ]
    if config.tls is not None and config.tls.server_name_override:
        options.append(("grpc.ssl_target_name_override", config.tls.server_name_override))
    return options


def _read(path: object, what: str) -> bytes:
    """A PEM file: a regular file of at most 1 MiB (``files.read_bounded``)."""
    return read_bounded(str(path), MAX_PEM_BYTES, what)


def channel_credentials(tls: TlsConfig) -> grpc.ChannelCredentials:
    root = _read(tls.root_cert, "TLS root certificate") if tls.root_cert else None
    cert = _read(tls.client_cert, "client certificate") if tls.client_cert else None
    key = _read(tls.client_key, "client key") if tls.client_key else None
    return grpc.ssl_channel_credentials(
        root_certificates=root, private_key=key, certificate_chain=cert
    )


def create_channel(
    config: ChannelConfig, extra_options: Sequence[tuple[str, int | str]] = ()
) -> grpc.Channel:
    """``extra_options`` are appended to ``channel_options`` (loadtest uses it for a
    channel-local subchannel pool, i.e. a connection of its own)."""
    target = resolve_target(config.target)
    options = [*channel_options(config), *extra_options]
    if config.tls is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, channel_credentials(config.tls), options=options)


def create_aio_channel(config: ChannelConfig) -> grpc.aio.Channel:
    """The asyncio channel, with the same options and credentials as ``create_channel``;
    it must be created (and used) inside the event loop that runs the calls."""
    target = resolve_target(config.target)
    options = channel_options(config)
    if config.tls is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, channel_credentials(config.tls), options=options)
