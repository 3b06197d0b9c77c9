"""The running gate: one generation of configuration at a time, swapped whole on reload.

A generation is a Pipeline, the upstream pools it forwards to, and the settings both came
from. Every request takes the current generation once, at its start, and finishes on it,
so a reload never changes the rules under a request in flight. A reload builds the new
generation completely first (an invalid configuration or a missing secret raises and
leaves the old one serving), keeps the pools whose settings did not change (their health
state and open connections carry over), swaps, and closes the old generation's other pools
only once the requests in flight on it have finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import Receive, Scope, Send

from authgate.gateway.authenticate import Backends
from authgate.gateway.config import GatewaySettings
from authgate.gateway.discovery import make_resolver
from authgate.gateway.mutate import IdentitySigner
from authgate.gateway.observe import Observer
from authgate.gateway.pipeline import Pipeline
from authgate.gateway.policy_authorizer import DeciderSource
from authgate.gateway.proxy import Proxy
from authgate.gateway.ratelimit import RateLimits
from authgate.gateway.upstreams import UpstreamPool, basic_authorization
from authgate.gateway.websocket import WebSocketProxy

log = logging.getLogger("authgate.gate")


class Generation:
    """One configuration's pipeline and pools, and how many requests are running on it."""

    def __init__(
        self,
        settings: GatewaySettings,
        pipeline: Pipeline,
        pools: dict[str, UpstreamPool],
        observer: Observer,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.pools = pools
        self.proxy = Proxy(pipeline, pools, observer)
        self.websocket = WebSocketProxy(pipeline, pools, observer)
        self.in_flight = 0
        self.retired = False
        self.idle = asyncio.Event()

    def enter(self) -> None:
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1
        if self.retired and self.in_flight == 0:
            self.idle.set()

    def retire(self) -> None:
        self.retired = True
        if self.in_flight == 0:
            self.idle.set()


class GateRuntime:
    """The gate as an ASGI app, with `reload()` for a new configuration."""

    def __init__(
        self,
        settings: GatewaySettings,
        backends: Backends,
        signer: IdentitySigner,
        observer: Observer,
        policies: DeciderSource | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self._backends = backends
        self._rate_limits = rate_limits
        self._signer = signer
        self._policies = policies
        self.observer = observer
        self._current = self._build(settings, {}, None)
        self._started = False
        self._lock = asyncio.Lock()
        self._retiring: dict[asyncio.Task[None], list[UpstreamPool]] = {}

    @property
    def pipeline(self) -> Pipeline:
        """The current Pipeline (forward-auth decides with it)."""
        return self._current.pipeline

    @property
    def settings(self) -> GatewaySettings:
        return self._current.settings

    @property
    def pools(self) -> dict[str, UpstreamPool]:
        return self._current.pools

    def _build(
        self, settings: GatewaySettings, old: dict[str, UpstreamPool], previous: Pipeline | None
    ) -> Generation:
        """A complete generation; raises ConfigError (a missing secret) before any change."""
        pools: dict[str, UpstreamPool] = {}
        nameservers = tuple(settings.dns.nameservers)
        # Pools with DNS targets and no nameservers configured ask the system's resolver.
        resolver = make_resolver(settings.dns.nameservers) if nameservers else None
        for name, upstream in settings.upstreams.items():
            authorization = basic_authorization(name, upstream)
            pool = old.get(name)
            if pool is not None and pool.same_as(upstream, authorization, nameservers):
                pools[name] = pool
            else:
                pools[name] = UpstreamPool(
                    name, upstream, authorization, resolver=resolver, nameservers=nameservers
                )
        # A reload keeps the rate-limit budgets already spent.
        rate_limits = previous.rate_limits if previous is not None else self._rate_limits
        pipeline = Pipeline.build(
            settings,
            self._backends,
            self._signer,
            rate_limits=rate_limits,
            policies=self._policies,
        )
        return Generation(settings, pipeline, pools, self.observer)

    async def start(self) -> None:
        """Open the pools and start their health checks."""
        self._started = True
        for pool in self._current.pools.values():
            await pool.start()

    async def reload(self, new: GatewaySettings) -> None:
        """Serve `new` from now on; raises (and keeps the old one) if it cannot be built."""
        async with self._lock:
            old = self._current
            generation = self._build(new, old.pools, old.pipeline)
            if self._started:
                for pool in generation.pools.values():
                    await pool.start()
            self._current = generation
            kept = {id(pool) for pool in generation.pools.values()}
            unused = [pool for pool in old.pools.values() if id(pool) not in kept]
            old.retire()
            task = asyncio.create_task(self._close_when_idle(old, unused))
            self._retiring[task] = unused
            task.add_done_callback(self._retiring.pop)
            log.info(
                "gateway reloaded: %d routes, %d upstreams (%d kept with their connections)",
                len(new.routes),
                len(generation.pools),
                len(old.pools) - len(unused),
            )

    async def _close_when_idle(self, old: Generation, unused: list[UpstreamPool]) -> None:
        await old.idle.wait()
        for pool in unused:
            await pool.aclose()

    async def aclose(self) -> None:
        """Close every pool, also those still waiting for an old generation to drain."""
        pools = list(self._current.pools.values())
        for task, unused in list(self._retiring.items()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            pools.extend(unused)
        for pool in pools:
            await pool.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        generation = self._current
        generation.enter()
        try:
            if scope["type"] == "http":
                await generation.proxy(scope, receive, send)
            else:
                await generation.websocket(scope, receive, send)
        finally:
            generation.leave()
