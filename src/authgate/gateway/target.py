"""One target of an upstream pool: where it is, and what the pool knows of its health.

A static target is a configured URL (a literal IP or `localhost`); a resolved one is one DNS
address of a named target, with its own connections and a count of the exchanges using
them, so the pool can close them once it has left the DNS answer (gateway.upstreams).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import aiohttp

from authgate.gateway.discovery import Address

log = logging.getLogger("authgate.gate.upstreams")

EJECT_AFTER = 2
"""Consecutive connection failures that eject a target."""
EJECT_SECONDS = 10.0
"""How long an ejected target rests when its upstream has no active health checks."""


class Target:
    """One `scheme://host:port` of a pool, with what the pool knows of its health."""

    def __init__(self, url: str, address: Address | None = None) -> None:
        parts = urlsplit(url)
        default_port = 443 if parts.scheme == "https" else 80
        port = parts.port or default_port
        host = address.name if address is not None else parts.hostname or ""
        shown = f"[{host}]" if ":" in host else host
        self.url = url
        self.host_header = shown if port == default_port else f"{shown}:{port}"
        self.server_hostname = address.name if address is not None else None
        """The TLS server name of a resolved address (its URL holds the IP)."""
        self.session: aiohttp.ClientSession | None = None
        """A resolved address's own connections; None: the pool's shared session."""
        self.inflight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.healthy = True
        self.ejected_until = 0.0
        self.failures = 0
        self._passes = 0
        self._fails = 0

    def available(self, now: float) -> bool:
        return self.healthy and self.ejected_until <= now

    def connect_failed(self, now: float, active_checks: bool) -> None:
        self.failures += 1
        if self.failures < EJECT_AFTER:
            return
        if active_checks:
            if self.healthy:
                log.warning("target %s ejected after %d connect failures", self.url, self.failures)
            self.healthy = False
            self._passes = 0
        else:
            if self.ejected_until <= now:
                log.warning("target %s ejected after %d connect failures", self.url, self.failures)
            self.ejected_until = now + EJECT_SECONDS

    def lease(self) -> None:
        """One more exchange uses the target's connections (see `returned`)."""
        self.inflight += 1
        self.idle.clear()

    def returned(self) -> None:
        self.inflight -= 1
        if self.inflight <= 0:
            self.inflight = 0
            self.idle.set()

    def succeeded(self) -> None:
        if self.failures:
            self.failures = 0

    def checked(self, passed: bool, settings_healthy: int, settings_unhealthy: int) -> None:
        """Count one active check; flip the state when a threshold is reached."""
        if passed:
            self._passes += 1
            self._fails = 0
            if not self.healthy and self._passes >= settings_healthy:
                log.warning("target %s is healthy again", self.url)
                self.healthy = True
                self.failures = 0
                self.ejected_until = 0.0
        else:
            self._fails += 1
            self._passes = 0
            if self.healthy and self._fails >= settings_unhealthy:
                log.warning("target %s failed its health checks", self.url)
                self.healthy = False
