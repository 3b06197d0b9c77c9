"""Revoked access tokens: a deny list of `jti`s kept until the tokens expire, and the
revocations that end a sign-in together with the access tokens issued from it.

Every access token issued to a user is recorded by jti with its refresh family, so ending
a family (revocation, a replayed refresh token or code, a password change elsewhere) also
denies the access tokens it issued (RFC 7009 2.1).

A JWT is checked without a database round trip, so its revocation must reach every
process's memory. Revocations are written to the shared table; each process mirrors the
table's live rows in a dict, refreshed by a background loop every `sync_interval` seconds.
The hot path is one dict lookup. Each refresh asks for rows revoked since a little before
the previous refresh (OVERLAP), so a row committed late or stamped by a replica whose
clock lags is still picked up; merging is idempotent. With Redis, every committed
revocation is announced and the other replicas sync at once; the loop is then the
fallback for notices missed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from authgate.cluster.notices import Announce, silent
from authgate.errors import StorageUnavailable
from authgate.store import Store, Transaction

log = logging.getLogger("authgate.revocation")

OVERLAP = 60.0
# Tokens verify up to the codec's leeway past `exp`; keep their jtis a while longer than that.
KEEP_AFTER_EXPIRY = 300.0
PURGE_EVERY = 600.0
PURGE_BATCH = 5000
PURGE_BATCHES = 200


class DenyList:
    def __init__(
        self, store: Store, sync_interval: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._sync_interval = sync_interval
        self._clock = clock
        self._denied: dict[str, float] = {}
        self._synced_at = -math.inf
        self._purged_at = -math.inf
        self._running = False
        self._lock = asyncio.Lock()
        self.announce: Announce = silent
        """Tells other replicas to sync now (Redis pub/sub; set by bootstrap)."""

    def is_denied(self, jti: str) -> bool:
        """Memory only: whether `jti` was revoked as of the last sync (or by this process)."""
        return jti in self._denied

    async def check(self, jti: str) -> bool:
        """As `is_denied`; without the background loop (a CLI, a test), a stale mirror is
        refreshed first, so a process that never started the loop still honours the table."""
        if not self._running and self._stale():
            async with self._lock:
                if self._stale():  # else another caller synced while this one waited
                    await self._sync()
        return self.is_denied(jti)

    def _stale(self) -> bool:
        return self._clock() - self._synced_at >= self._sync_interval

    async def revoke(self, tx: Transaction, jti: str, expires_at: float) -> None:
        """Write a revocation in the caller's transaction; remembered once committed."""
        await tx.oauth.revoke_jti(jti, self._clock(), expires_at)
        tx.after_commit(lambda: self._committed([(jti, expires_at)]))

    async def _deny(self, tx: Transaction, entries: list[tuple[str, float]]) -> None:
        await tx.oauth.revoke_jtis(entries, self._clock())
        tx.after_commit(lambda: self._committed(entries))

    async def revoke_families(self, tx: Transaction, family_ids: list[str]) -> None:
        """End refresh families and deny every live access token they issued."""
        now = self._clock()
        await tx.refresh.revoke_families(family_ids, now)
        await self._deny(tx, await tx.oauth.live_issued(now, families=family_ids))

    async def revoke_client_grants(self, tx: Transaction, sub: str, client_id: str) -> None:
        """End a user's refresh families at one client, denying its access tokens for them."""
        now = self._clock()
        await tx.refresh.revoke_user_client(sub, client_id, now)
        await self._deny(tx, await tx.oauth.live_issued(now, sub=sub, client_id=client_id))

    async def revoke_others(self, tx: Transaction, sub: str, keep_jti: str | None) -> None:
        """End every sign-in of a user except the one the access token `keep_jti` belongs
        to (its refresh family, or that token alone when it has none)."""
        now = self._clock()
        kept = await tx.oauth.get_issued(keep_jti) if keep_jti is not None else None
        keep_family = kept.family_id if kept is not None and kept.sub == sub else None
        await tx.refresh.revoke_user(sub, now, keep=keep_family)
        others = await tx.oauth.live_issued(
            now, sub=sub, keep_family=keep_family, keep_jti=keep_jti
        )
        await self._deny(tx, others)

    def _committed(self, entries: list[tuple[str, float]]) -> None:
        self._denied.update(entries)
        if entries:
            self.announce("deny", "")

    def remember(self, jti: str, expires_at: float) -> None:
        """This process honours a committed revocation at once, not at its next sync;
        the other replicas are told to sync now."""
        self._committed([(jti, expires_at)])

    async def sync(self) -> None:
        """Merge the table's recent revocations into memory and forget expired ones."""
        async with self._lock:
            await self._sync()

    async def _sync(self) -> None:
        started = self._clock()
        since = 0.0 if self._synced_at == -math.inf else self._synced_at - OVERLAP
        cutoff = started - KEEP_AFTER_EXPIRY
        async with self._store.read() as tx:
            rows = await tx.oauth.revoked_since(since, cutoff)
        for jti, _, expires_at in rows:
            self._denied[jti] = expires_at
        for jti in [j for j, exp in self._denied.items() if exp < cutoff]:
            del self._denied[jti]
        self._synced_at = started

    async def _purge(self) -> None:
        now = self._clock()
        if now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        cutoff = now - KEEP_AFTER_EXPIRY
        await self._in_batches(lambda tx: tx.oauth.purge_revoked(cutoff, PURGE_BATCH))
        await self._in_batches(lambda tx: tx.oauth.purge_issued(cutoff, PURGE_BATCH))
        async with self._store.transaction() as tx:
            await tx.refresh.forget_successors(before=now)

    async def _in_batches(self, purge: Callable[[Transaction], Awaitable[int]]) -> None:
        """Delete in short transactions of PURGE_BATCH rows, so a backlog (after an outage,
        or a burst of revocations) never makes one statement outlast `database.timeout`;
        at most PURGE_BATCHES a round, the rest the next round."""
        for _ in range(PURGE_BATCHES):
            async with self._store.transaction() as tx:
                gone = await purge(tx)
            if gone < PURGE_BATCH:
                return

    async def run(self) -> None:
        """Keep the mirror fresh until cancelled; a failed sync keeps the last mirror."""
        while True:
            try:
                await self.sync()
                self._running = True
                await self._purge()
            except StorageUnavailable:
                log.warning("the database is unavailable; keeping the last deny list")
            except Exception:
                log.exception("syncing the token deny list failed; keeping the last copy")
            await asyncio.sleep(self._sync_interval)
