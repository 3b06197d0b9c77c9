"""The audit trail: append-only events, listed newest first."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.store.records import AuditRecord, Page
from authgate.store.tables import audit_events
from authgate.store.users import decode_cursor, encode_cursor


class AuditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, event: AuditRecord) -> None:
        values = {k: v for k, v in vars(event).items() if k != "id"}
        await self._conn.execute(insert(audit_events).values(**values))

    async def list(
        self,
        *,
        sub: str | None = None,
        event: str | None = None,
        since: float | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[AuditRecord]:
        query = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit + 1)
        if sub:
            query = query.where(audit_events.c.sub == sub)
        if event:
            query = query.where(audit_events.c.event == event)
        if since is not None:
            query = query.where(audit_events.c.at >= since)
        before = decode_cursor(cursor)
        if before is not None and before.isdigit():
            query = query.where(audit_events.c.id < int(before))
        rows = (await self._conn.execute(query)).all()
        items = [
            AuditRecord(
                id=r.id,
                event=r.event,
                at=r.at,
                sub=r.sub,
                client_id=r.client_id,
                ip=r.ip,
                user_agent=r.user_agent,
                detail=dict(r.detail),
            )
            for r in rows[:limit]
        ]
        next_cursor = encode_cursor(str(items[-1].id)) if len(rows) > limit else None
        return Page(items, next_cursor)
