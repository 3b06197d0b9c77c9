"""Upstream pools: which target gets the next request, and which targets are fit for one.

A pool round-robins over its healthy targets. Two things take a target out of rotation:
active health checks (a GET of `health.path` every `interval`; `unhealthy_threshold`
failures in a row take it out, `healthy_threshold` passes bring it back; targets start
healthy and the first check runs at once), and passive ejection (consecutive connection
failures seen by real requests). An ejected target comes back through its health checks
when the upstream has them, else after EJECT_SECONDS; its failure count is kept until a
request succeeds, so one more failure ejects it again at once.

Each pool owns one aiohttp session (keep-alive connections, a DNS cache that expires after
DNS_TTL so host names re-resolve), which a reload keeps when the upstream's settings are
unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from authgate.config import resolve_secret
from authgate.gateway.config import UpstreamSettings

log = logging.getLogger("authgate.gate.upstreams")

EJECT_AFTER = 2
"""Consecutive connection failures that eject a target."""
EJECT_SECONDS = 10.0
"""How long an ejected target rests when its upstream has no active health checks."""
DNS_TTL = 30
"""Seconds a resolved host name is trusted before it is looked up again."""
SKIP_AUTO_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})
"""Headers aiohttp would add on its own: the upstream gets only what the client sent."""


class NoHealthyUpstream(Exception):
    """Every target of the upstream is out of rotation (503)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(f"no healthy target in upstream {upstream!r}")
        self.upstream = upstream


class Target:
    """One `scheme://host:port` of a pool, with what the pool knows of its health."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        default_port = 443 if parts.scheme == "https" else 80
        port = parts.port or default_port
        host = parts.hostname or ""
        shown = f"[{host}]" if ":" in host else host
        self.url = url
        self.host_header = shown if port == default_port else f"{shown}:{port}"
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


def basic_authorization(name: str, settings: UpstreamSettings) -> str | None:
    """The Authorization value for the upstream's basic_auth, its secrets resolved now,
    so a missing one fails start or reload with the key named."""
    if settings.basic_auth is None:
        return None
    key = f"gateway.upstreams.{name}.basic_auth"
    username = resolve_secret(settings.basic_auth.username, f"{key}.username") or ""
    password = resolve_secret(settings.basic_auth.password, f"{key}.password") or ""
    pair = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class UpstreamPool:
    """The targets of one upstream, their health, and the connections to them."""

    def __init__(
        self,
        name: str,
        settings: UpstreamSettings,
        authorization: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings
        self.authorization = authorization
        self.targets = tuple(Target(url) for url in settings.targets)
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=settings.timeouts.connect,
            sock_read=settings.timeouts.read,
        )
        self._clock = clock
        self._next = 0
        self._session: aiohttp.ClientSession | None = None
        self._checks: list[asyncio.Task[None]] = []

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"upstream pool {self.name!r} is not started")
        return self._session

    @property
    def is_open(self) -> bool:
        return self._session is not None

    def same_as(self, settings: UpstreamSettings, authorization: str | None) -> bool:
        return self.settings == settings and self.authorization == authorization

    async def start(self) -> None:
        """Open the connection pool and start the health checks (the first runs at once)."""
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=DNS_TTL, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=SKIP_AUTO_HEADERS,
            timeout=self.timeout,
            trust_env=False,
        )
        if self.settings.health is not None:
            self._checks = [
                asyncio.create_task(self._check_forever(target)) for target in self.targets
            ]

    async def aclose(self) -> None:
        for task in self._checks:
            task.cancel()
        for task in self._checks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._checks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pick(self, exclude: Target | None = None) -> Target:
        """The next available target in round-robin order, or NoHealthyUpstream."""
        now = self._clock()
        count = len(self.targets)
        for step in range(count):
            target = self.targets[(self._next + step) % count]
            if target is not exclude and target.available(now):
                self._next = (self._next + step + 1) % count
                return target
        raise NoHealthyUpstream(self.name)

    def pick_other(self, failed: Target) -> Target | None:
        """Another available target for a retry, or None."""
        try:
            return self.pick(exclude=failed)
        except NoHealthyUpstream:
            return None

    def connect_failed(self, target: Target) -> None:
        target.connect_failed(self._clock(), active_checks=self.settings.health is not None)

    async def _check_forever(self, target: Target) -> None:
        health = self.settings.health
        assert health is not None
        limits = aiohttp.ClientTimeout(total=health.timeout)
        headers = {"Host": target.host_header}
        if self.authorization is not None:
            headers["Authorization"] = self.authorization
        url = target.url + health.path
        while True:
            passed = await self._check_once(url, headers, limits)
            target.checked(passed, health.healthy_threshold, health.unhealthy_threshold)
            await asyncio.sleep(health.interval)

    async def _check_once(
        self, url: str, headers: dict[str, str], limits: aiohttp.ClientTimeout
    ) -> bool:
        try:
            async with self.session.get(
                url, headers=headers, timeout=limits, allow_redirects=False
            ) as response:
                await response.read()
                return 200 <= response.status < 400
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Not repr(exc): aiohttp's response errors carry the request's headers.
            log.debug("health check of %s failed: %s", url, type(exc).__name__)
            return False
