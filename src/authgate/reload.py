"""Reloading the gate's routes while it serves, on SIGHUP or `POST /admin/gateway/reload`.

A reload re-reads the whole configuration (the file `serve` started from, then the
environment) exactly as a start would, and hands its `gateway:` section to the gate, which
builds the new generation fully before swapping it in: a config that does not load, or a
gate that cannot be built from it, is refused with every problem and the old one keeps
serving. Everything else (listeners, database, tokens, ...) is fixed for the life of the
process: a change there is reported as needing a restart and otherwise ignored. TLS
certificates are re-read from the same files, so a renewed certificate takes effect
without a restart. One reload runs at a time.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from authgate.cluster.notices import Announce, silent
from authgate.config import ConfigError, Settings, load_settings
from authgate.gateway.config import GatewaySettings, routes_claiming
from authgate.listeners import Listener, tls_context

log = logging.getLogger("authgate")


class Reloadable(Protocol):
    """The gate: builds a new generation from `new`, raising (and keeping the old) on error."""

    async def reload(self, new: GatewaySettings) -> None: ...


class ReloadRefused(Exception):
    """The new configuration is invalid; `problems` are "source: key: message" lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Reloaded:
    routes: int
    upstreams: int
    restart_needed: list[str]
    """Changed settings that a reload does not apply (top-level sections, gateway.listen)."""


def needs_restart(running: Settings, new: Settings) -> list[str]:
    """The settings that differ between `running` and `new` but only a restart applies."""
    changed = [
        name
        for name in type(running).model_fields
        if name != "gateway" and getattr(running, name) != getattr(new, name)
    ]
    if running.gateway.listen != new.gateway.listen:
        changed.append("gateway.listen")
    return changed


def _problems(exc: ConfigError) -> list[str]:
    return [f"{exc.source}: {problem}" for problem in exc.problems]


class GatewayReloader:
    """Holds the running settings and swaps the gate's part of them, one reload at a time."""

    def __init__(
        self,
        settings: Settings,
        config_path: Path | None,
        gate: Reloadable,
        listeners: list[Listener],
    ) -> None:
        self._running = settings
        self._path = config_path
        self._gate = gate
        self._listeners = listeners
        self._lock = asyncio.Lock()
        self.announce: Announce = silent
        """Tells other replicas to reload too (Redis pub/sub; set by `serve`)."""

    @property
    def gateway(self) -> GatewaySettings:
        """The gateway settings serving now."""
        return self._running.gateway

    async def reload(self) -> Reloaded:
        """Apply the configuration file's current `gateway:`; raise ReloadRefused if invalid."""
        async with self._lock:
            try:
                new = await asyncio.to_thread(self._load)
            except ConfigError as exc:
                raise ReloadRefused(_problems(exc)) from None
            # The pages keep the prefix they started with: a reload may not route it.
            segment = self._running.ui.reserved_segment
            claiming = routes_claiming(new.gateway.routes, {segment})
            if claiming:
                raise ReloadRefused(
                    [
                        f"gateway.routes.{index}.path: route {route.name!r}: /{segment} is "
                        "served by authgate itself (ui.prefix)"
                        for index, route in claiming
                    ]
                )
            # Listeners cannot move while bound: the gate keeps the ones it started with.
            gateway = new.gateway.model_copy(update={"listen": self._running.gateway.listen})
            try:
                await self._gate.reload(gateway)
            except ConfigError as exc:
                raise ReloadRefused(_problems(exc)) from None
            self._refresh_certificates()
            restart = needs_restart(self._running, new)
            if restart:
                log.warning("changed settings not applied until a restart: %s", ", ".join(restart))
            self._running = self._running.model_copy(update={"gateway": gateway})
            return Reloaded(len(gateway.routes), len(gateway.upstreams), restart)

    async def reload_and_log(self) -> None:
        """SIGHUP: reload, and tell the log what went wrong; never raise."""
        try:
            await self.reload()
        except ReloadRefused as exc:
            for problem in exc.problems:
                log.error("gateway reload refused: %s", problem)
            log.error("gateway reload refused; the previous configuration keeps serving")
            return
        except Exception:
            log.exception("gateway reload failed; the previous configuration keeps serving")

    def _load(self) -> Settings:
        """The configuration as a start would read it, and the TLS files it would serve."""
        settings = load_settings(self._path)
        self._check_certificates()
        return settings

    def _check_certificates(self) -> None:
        problems: list[str] = []
        for listener in self._listeners:
            if listener.spec.tls is not None:
                try:
                    tls_context(listener.spec.tls, listener.spec.key)
                except ConfigError as exc:
                    problems.extend(exc.problems)
        if problems:
            raise ConfigError("tls", problems)

    def _refresh_certificates(self) -> None:
        """New handshakes use the files' current pair; open connections keep theirs."""
        for listener in self._listeners:
            if listener.tls is None or listener.spec.tls is None:
                continue
            try:
                listener.tls.load_cert_chain(listener.spec.tls.cert, listener.spec.tls.key)
            except (OSError, ssl.SSLError) as exc:
                # The files changed again since they were checked: keep what is loaded.
                log.error("%s.tls: certificate not refreshed: %s", listener.spec.key, exc)
