"""Browser sessions as their holder sees them on the account page: list, end, touch.

Starting a session and finding it by its hash stay in store/oauth.py, next to the rest of
the OAuth state; this module holds what the account page and its API add.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.store.records import BrowserSessionRecord
from authgate.store.tables import browser_sessions

_T = browser_sessions


def _live(sub: str, now: float, valid_after: float) -> tuple[ColumnElement[bool], ...]:
    return (
        _T.c.sub == sub,
        _T.c.revoked_at.is_(None),
        _T.c.expires_at > now,
        _T.c.created_at > valid_after,
    )


class BrowserSessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def live_of(self, sub: str, now: float, valid_after: float) -> list[BrowserSessionRecord]:
        """The user's sessions that still count, most recently used first."""
        query = (
            select(_T)
            .where(*_live(sub, now, valid_after))
            .order_by(_T.c.last_used_at.desc(), _T.c.created_at.desc())
        )
        rows = await self._conn.execute(query)
        return [
            BrowserSessionRecord(**{c.name: getattr(row, c.name) for c in _T.columns})
            for row in rows
        ]

    async def revoke_public(self, sub: str, public_id: str, at: float) -> str | None:
        """End the user's live session named `public_id`; its hash, or None when the user
        has no such live session (another user's id is simply not found)."""
        query = select(_T.c.session_hash).where(
            _T.c.sub == sub, _T.c.public_id == public_id, _T.c.revoked_at.is_(None)
        )
        row = (await self._conn.execute(query)).first()
        if row is None:
            return None
        await self._conn.execute(
            update(_T).where(_T.c.session_hash == row[0]).values(revoked_at=at)
        )
        return str(row[0])

    async def revoke_all_but(self, sub: str, keep_hash: str | None, at: float) -> int:
        """End every live session of the user except `keep_hash`; how many were ended."""
        query = update(_T).where(_T.c.sub == sub, _T.c.revoked_at.is_(None))
        if keep_hash is not None:
            query = query.where(_T.c.session_hash != keep_hash)
        result = await self._conn.execute(query.values(revoked_at=at))
        return int(result.rowcount or 0)

    async def touch(
        self, session_hash: str, at: float, ip: str | None, user_agent: str | None
    ) -> None:
        """Note a use: when, and from where (kept as they were when not known)."""
        values: dict[str, object] = {"last_used_at": at}
        if ip is not None:
            values["ip"] = ip
        if user_agent is not None:
            values["user_agent"] = user_agent
        await self._conn.execute(
            update(_T).where(_T.c.session_hash == session_hash).values(**values)
        )

    async def mark_reauthenticated(self, session_hash: str, at: float) -> None:
        await self._conn.execute(
            update(_T)
            .where(_T.c.session_hash == session_hash, _T.c.revoked_at.is_(None))
            .values(reauth_at=at)
        )
