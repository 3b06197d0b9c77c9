"""Upstream pools: which target gets the next request, and which targets are fit for one.

A pool round-robins over its healthy targets. Two things take a target out of rotation:
active health checks (a GET of `health.path` every `interval`; `unhealthy_threshold`
failures in a row take it out, `healthy_threshold` passes bring it back; targets start
healthy and the first check runs at once), and passive ejection (consecutive connection
failures seen by real requests). An ejected target comes back through its health checks
when the upstream has them, else after EJECT_SECONDS; its failure count is kept until a
request succeeds, so one more failure ejects it again at once.

Each pool owns one aiohttp session for its static targets (a literal IP or `localhost`:
keep-alive connections, no DNS work), which a reload keeps when the upstream's settings are
unchanged. A target given by DNS name is resolved off the request path, again on the
answer's TTL (gateway.discovery); every resolved address is a Target of its own with its
own session and health checks, so an address that leaves the answer stops getting requests
at once, and its connections close once its requests in flight are done.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable

import aiohttp
import dns.asyncresolver
import dns.resolver

from authgate.config import resolve_secret
from authgate.gateway.config import UpstreamSettings
from authgate.gateway.discovery import (
    MIN_TTL,
    Address,
    DnsTarget,
    ResolutionFailed,
    parse_target,
    resolve,
)
from authgate.gateway.target import EJECT_AFTER, EJECT_SECONDS, Target

__all__ = [
    "EJECT_AFTER",
    "EJECT_SECONDS",
    "NoHealthyUpstream",
    "Target",
    "UpstreamPool",
    "basic_authorization",
]

log = logging.getLogger("authgate.gate.upstreams")

STATIC_DNS_CACHE = 30
"""Seconds aiohttp caches `localhost` for the shared session (the only name it resolves)."""
FIRST_RESOLUTION_WAIT = 3.0
"""Seconds start() waits for a DNS target's first answer before serving without it."""
SKIP_AUTO_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})
"""Headers aiohttp would add on its own: the upstream gets only what the client sent."""


class NoHealthyUpstream(Exception):
    """Every target of the upstream is out of rotation (503)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(f"no healthy target in upstream {upstream!r}")
        self.upstream = upstream


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
        resolver: dns.asyncresolver.Resolver | None = None,
        nameservers: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.authorization = authorization
        self.nameservers = nameservers
        self._resolver = resolver
        # One slot per configured target, in order: a static Target, or a DNS target's
        # current addresses (empty until its first answer).
        self._slots: list[Target | dict[Address, Target]] = []
        self._dns: list[tuple[int, DnsTarget]] = []
        for url in settings.targets:
            wanted = parse_target(url)
            if wanted is None:
                self._slots.append(Target(url))
            else:
                self._dns.append((len(self._slots), wanted))
                self._slots.append({})
        self.targets: tuple[Target, ...] = ()
        self._rebuild()
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
        self._address_checks: dict[int, asyncio.Task[None]] = {}
        self._resolvers: list[asyncio.Task[None]] = []
        self._draining: set[asyncio.Task[None]] = set()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"upstream pool {self.name!r} is not started")
        return self._session

    @property
    def is_open(self) -> bool:
        return self._session is not None

    def same_as(
        self,
        settings: UpstreamSettings,
        authorization: str | None,
        nameservers: tuple[str, ...] = (),
    ) -> bool:
        return (
            self.settings == settings
            and self.authorization == authorization
            and (not self._dns or self.nameservers == nameservers)
        )

    def session_for(self, target: Target) -> aiohttp.ClientSession:
        """The session whose connections reach `target`."""
        return target.session if target.session is not None else self.session

    def _rebuild(self) -> None:
        targets: list[Target] = []
        for slot in self._slots:
            if isinstance(slot, Target):
                targets.append(slot)
            else:
                targets.extend(slot[address] for address in sorted(slot, key=_order))
        self.targets = tuple(targets)

    async def start(self) -> None:
        """Open the connection pool and start the health checks (the first runs at once)."""
        if self._session is not None:
            return
        self._session = self._new_session(STATIC_DNS_CACHE)
        if self.settings.health is not None:
            self._checks = [
                asyncio.create_task(self._check_forever(target)) for target in self.targets
            ]
        if self._dns:
            if self._resolver is None:
                try:
                    self._resolver = dns.asyncresolver.Resolver()
                except dns.resolver.NoResolverConfiguration:
                    log.error("upstream %s: no system DNS resolver configured", self.name)
                    return
            first = [asyncio.Event() for _ in self._dns]
            self._resolvers = [
                asyncio.create_task(self._resolve_forever(index, wanted, answered))
                for (index, wanted), answered in zip(self._dns, first, strict=True)
            ]
            waits = [asyncio.create_task(answered.wait()) for answered in first]
            _, pending = await asyncio.wait(waits, timeout=FIRST_RESOLUTION_WAIT)
            for task in pending:
                task.cancel()

    def _new_session(self, dns_cache: int | None = None) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=dns_cache, keepalive_timeout=30)
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=SKIP_AUTO_HEADERS,
            timeout=self.timeout,
            trust_env=False,
        )

    async def _resolve_forever(
        self, index: int, wanted: DnsTarget, answered: asyncio.Event
    ) -> None:
        """Keep slot `index` at the target's current addresses; a failed lookup keeps the
        last good set (logged once until a lookup succeeds again)."""
        assert self._resolver is not None
        failing = False
        while True:
            try:
                addresses, ttl = await resolve(self._resolver, wanted)
            except ResolutionFailed as exc:
                if not failing:
                    log.warning(
                        "upstream %s: resolving %s failed (%s); keeping its %d last addresses",
                        self.name,
                        wanted.name,
                        exc,
                        len(self._addresses(index)),
                    )
                failing = True
                ttl = MIN_TTL
            else:
                if failing:
                    log.warning("upstream %s: %s resolves again", self.name, wanted.name)
                failing = False
                self._apply(index, addresses)
            answered.set()
            await asyncio.sleep(ttl)

    def _addresses(self, index: int) -> dict[Address, Target]:
        slot = self._slots[index]
        assert isinstance(slot, dict)
        return slot

    def _apply(self, index: int, addresses: list[Address]) -> None:
        """Make slot `index` hold exactly `addresses`: new ones join (with their own
        session and health checks), gone ones drain and close."""
        current = self._addresses(index)
        wanted = set(addresses)
        gone = [address for address in current if address not in wanted]
        added = [address for address in addresses if address not in current]
        if not gone and not added:
            return
        for address in added:
            target = Target(address.url, address)
            target.session = self._new_session()
            current[address] = target
            if self.settings.health is not None:
                self._address_checks[id(target)] = asyncio.create_task(self._check_forever(target))
        for address in gone:
            target = current.pop(address)
            task = asyncio.create_task(self._drain(target))
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)
        self._rebuild()
        log.info(
            "upstream %s: %d addresses (%d added, %d removed)",
            self.name,
            len(current),
            len(added),
            len(gone),
        )

    async def _drain(self, target: Target) -> None:
        """Close a removed address's connections once its exchanges in flight are done."""
        check = self._address_checks.pop(id(target), None)
        if check is not None:
            check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await check
        try:
            await target.idle.wait()
        finally:
            if target.session is not None:
                await target.session.close()

    async def aclose(self) -> None:
        tasks = [
            *self._checks,
            *self._address_checks.values(),
            *self._resolvers,
            *self._draining,
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._checks = []
        self._address_checks = {}
        self._resolvers = []
        for slot in self._slots:
            for target in slot.values() if isinstance(slot, dict) else ():
                if target.session is not None:
                    await target.session.close()
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
        session = self.session_for(target)
        if self.authorization is not None:
            headers["Authorization"] = self.authorization
        url = target.url + health.path
        while True:
            passed = await self._check_once(session, target, url, headers, limits)
            target.checked(passed, health.healthy_threshold, health.unhealthy_threshold)
            await asyncio.sleep(health.interval)

    async def _check_once(
        self,
        session: aiohttp.ClientSession,
        target: Target,
        url: str,
        headers: dict[str, str],
        limits: aiohttp.ClientTimeout,
    ) -> bool:
        try:
            async with session.get(
                url,
                headers=headers,
                timeout=limits,
                allow_redirects=False,
                server_hostname=target.server_hostname,
            ) as response:
                await response.read()
                return 200 <= response.status < 400
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Not repr(exc): aiohttp's response errors carry the request's headers.
            log.debug("health check of %s failed: %s", url, type(exc).__name__)
            return False


def _order(address: Address) -> tuple[str, int]:
    return (address.ip, address.port)
