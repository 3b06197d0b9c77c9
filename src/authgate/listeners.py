"""The process's listeners: which exist, their sockets, their TLS, and a server for each.

Listeners are bound and TLS files are read before anything else starts, so a taken port or
an unreadable certificate stops `serve` at once with an error naming the config key and the
file, instead of failing on the first request. Every listener is served by its own uvicorn
server in this one process; signals are left to the caller, who stops them all together.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from starlette.types import ASGIApp

from authgate.config import ConfigError, Settings
from authgate.gateway.config import ListenerTlsSettings
from authgate.http_limits import BoundedHttpToolsProtocol

log = logging.getLogger("authgate")

Role = Literal["public", "admin", "gate"]

TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS"
"""Forward-secret AEAD suites only (Mozilla "intermediate"); TLS 1.3 suites are OpenSSL's."""


class ListenError(Exception):
    """A listener could not start (address in use, permission denied)."""


@dataclass(frozen=True)
class ListenerSpec:
    """One listener as configured; `key` is where it is configured, for error messages."""

    key: str
    role: Role
    listen: str
    tls: ListenerTlsSettings | None


@dataclass
class Listener:
    """A bound socket, ready to serve, with its TLS context when it terminates TLS."""

    spec: ListenerSpec
    sock: socket.socket
    tls: ssl.SSLContext | None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.spec.listen}"


def listener_specs(settings: Settings) -> list[ListenerSpec]:
    """Public, admin, then the gate's own listeners in the order they are configured."""
    specs = [
        ListenerSpec("public", "public", settings.public.listen, settings.public.tls),
        ListenerSpec("admin", "admin", settings.admin.listen, settings.admin.tls),
    ]
    for index, listener in enumerate(settings.gateway.listen):
        specs.append(
            ListenerSpec(f"gateway.listen[{index}]", "gate", listener.listen, listener.tls)
        )
    return specs


def _read(path: str, key: str, problems: list[str]) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        problems.append(f"{key}: cannot read {path}: {exc.strerror}")
        return None


def _check_certificate(data: bytes, path: str, key: str, problems: list[str]) -> None:
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        problems.append(f"{key}: {path} is not a PEM certificate")
        return
    expires = chain[0].not_valid_after_utc
    if expires < datetime.now(UTC):
        # Still served: clients decide; but the operator must hear of it.
        log.warning("%s: the certificate in %s expired at %s", key, path, expires.isoformat())


def _check_private_key(data: bytes, path: str, key: str, problems: list[str]) -> None:
    try:
        load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        problems.append(f"{key}: {path} is not an unencrypted PEM private key")


def tls_context(tls: ListenerTlsSettings, key: str) -> ssl.SSLContext:
    """A server context for `tls`: TLS 1.2+, forward-secret AEAD ciphers, HTTP/1.1 ALPN.

    Raises ConfigError with every problem, each naming `key`.cert/.key and the file.
    """
    problems: list[str] = []
    cert_data = _read(tls.cert, f"{key}.tls.cert", problems)
    key_data = _read(tls.key, f"{key}.tls.key", problems)
    if cert_data is not None:
        _check_certificate(cert_data, tls.cert, f"{key}.tls.cert", problems)
    if key_data is not None:
        _check_private_key(key_data, tls.key, f"{key}.tls.key", problems)
    if problems:
        raise ConfigError("tls", problems)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(tls.cert, tls.key)
    except ssl.SSLError as exc:
        problem = f"{key}.tls: the key {tls.key} does not fit the certificate {tls.cert}"
        raise ConfigError("tls", [f"{problem} ({exc.reason})"]) from None
    return context


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def bind(listen: str) -> socket.socket:
    """Bind a listener ourselves, so a taken address is a clear error before anything runs."""
    host, port = _split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {listen}: {exc.strerror}") from None
    return sock


def tls_contexts(specs: list[ListenerSpec]) -> list[ssl.SSLContext | None]:
    """The TLS context of each listener (None for plain HTTP); every problem at once."""
    contexts: list[ssl.SSLContext | None] = []
    problems: list[str] = []
    for spec in specs:
        if spec.tls is None:
            contexts.append(None)
            continue
        try:
            contexts.append(tls_context(spec.tls, spec.key))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError("tls", problems)
    return contexts


def open_listeners(settings: Settings) -> list[Listener]:
    """Read every TLS pair, then bind every address; on any failure nothing stays open."""
    specs = listener_specs(settings)
    contexts = tls_contexts(specs)
    listeners: list[Listener] = []
    try:
        for spec, context in zip(specs, contexts, strict=True):
            listeners.append(Listener(spec, bind(spec.listen), context))
    except ListenError:
        close_all(listeners)
        raise
    return listeners


def close_all(listeners: list[Listener]) -> None:
    for listener in listeners:
        listener.sock.close()


def check_listeners(settings: Settings) -> None:
    """Fail fast, before migrations and key generation: open every listener, then close."""
    close_all(open_listeners(settings))


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to us: several servers share one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def server_for(app: ASGIApp, listener: Listener) -> uvicorn.Server:
    """A uvicorn server for `app` on `listener`; run it with `serve(sockets=[listener.sock])`."""
    context = listener.tls
    config = uvicorn.Config(
        app,
        http=BoundedHttpToolsProtocol,
        log_config=None,  # authgate.logs formats every logger, uvicorn's too
        access_log=False,
        server_header=False,
        lifespan="off",
        # The peer address is the TCP peer: forwarding headers are believed only by the
        # gateway, and only from gateway.trusted_proxies.
        proxy_headers=False,
        ssl_context_factory=None if context is None else (lambda _config, _default: context),
    )
    return _Server(config)
