"""Change notices between replicas over Redis pub/sub (channel `{key_prefix}events`).

A replica that commits a change others hold in memory (a revocation, a user signed out
or disabled, a policy, a client, a signing key, the gate's routes) announces it after the
commit; every replica, on hearing it, runs the path its polling would have run anyway:
the deny list's sync, the policy poll, dropping a client or user from a cache, reloading
keys or routes. A notice carries what changed, never a secret, and nothing is trusted
from it but "look now": the database stays the truth. Polling stays on as the fallback,
and after every (re)subscription a full resync covers the notices missed meanwhile.

Without Redis, `announce` does nothing and polling alone carries changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from authgate.cluster.link import FIRST_PAUSE, MAX_PAUSE, RedisLink

log = logging.getLogger("authgate.redis")

Announce = Callable[[str, str], None]
"""`announce(kind, id)`: tell the other replicas that `kind` (`id`: which one) changed."""

Handler = Callable[[str], Awaitable[None]]
"""Applies a notice of one kind, given its id ("" when the notice names none)."""


def silent(kind: str, ident: str) -> None:
    """The announcer of a process without Redis."""


class Notices:
    """Publishes this process's notices and applies the other replicas'."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self.channel = f"{link.key_prefix}events"
        self.origin = secrets.token_hex(8)
        self._handlers: dict[str, Handler] = {}
        self._resyncs: list[Callable[[], Awaitable[object]]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()

    def on(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def on_resync(self, resync: Callable[[], Awaitable[object]]) -> None:
        """Run after every (re)subscription: what polling would have brought."""
        self._resyncs.append(resync)

    def announce(self, kind: str, ident: str) -> None:
        """Publish in the background (callers are after-commit hooks; nothing waits)."""
        if not self._link.usable():
            return
        try:
            task = asyncio.get_running_loop().create_task(self._publish(kind, ident))
        except RuntimeError:  # no loop: a CLI command; the others poll
            return
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, kind: str, ident: str) -> None:
        message = json.dumps({"kind": kind, "id": ident, "origin": self.origin})
        started = time.perf_counter()
        try:
            await self._link.client.publish(self.channel, message)
        except (RedisError, OSError, TimeoutError) as error:
            self._link.failed(error)
        else:
            self._link.succeeded(time.perf_counter() - started)

    async def _apply(self, data: bytes) -> None:
        try:
            notice = json.loads(data)
            kind, ident, origin = str(notice["kind"]), str(notice.get("id", "")), notice["origin"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed notice on %s", self.channel)
            return
        handler = self._handlers.get(kind)
        if origin == self.origin or handler is None:
            return
        try:
            await handler(ident)
        except Exception:
            log.exception("applying a %s notice failed; polling will catch up", kind)

    async def _resync(self) -> None:
        for resync in self._resyncs:
            try:
                await resync()
            except Exception:
                log.exception("resyncing after subscribing failed; polling will catch up")

    async def run(self) -> None:
        """Listen until cancelled; reconnect with a growing pause, resync after each."""
        pause = FIRST_PAUSE
        while True:
            pubsub = self._link.listener.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._link.succeeded()
                pause = FIRST_PAUSE
                await self._resync()
                self.subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        await self._apply(message["data"])
            except (RedisError, OSError, TimeoutError) as error:
                self.subscribed.clear()
                self._link.failed(error)
            finally:
                await pubsub.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
