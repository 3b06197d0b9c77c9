"""Limits shared by every replica: failed sign-ins, windowed counters, locked code purposes.

Each read-modify-write locks its row first (`SELECT … FOR UPDATE` on PostgreSQL; on
SQLite the whole write transaction is already exclusive), so two replicas counting the
same key at once never lose a count. A missing row is created inside a savepoint, and a
concurrent creation is simply read back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.store.records import LoginFailureRecord
from authgate.store.tables import code_locks, limit_counters, login_failures


class LimitRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _locked_row(self, table: Table, key: str, fresh: dict[str, Any]) -> Any:
        """The row for `key`, created from `fresh` if missing, locked for this transaction."""
        query = select(table).where(table.c.key == key).with_for_update()
        row = (await self._conn.execute(query)).first()
        if row is not None:
            return row
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(table).values(key=key, **fresh))
        except IntegrityError:
            pass  # created concurrently: read theirs
        return (await self._conn.execute(query)).one()

    # -- failed sign-ins ---------------------------------------------------------------

    async def login_failures(self, keys: list[str]) -> list[LoginFailureRecord]:
        query = select(login_failures).where(login_failures.c.key.in_(keys))
        return [_failure(row) for row in await self._conn.execute(query)]

    async def lock_login_failure(self, key: str, now: float) -> LoginFailureRecord:
        fresh: dict[str, Any] = {"failures": [], "locked_until": None, "strikes": 0}
        fresh["updated_at"] = now
        return _failure(await self._locked_row(login_failures, key, fresh))

    async def put_login_failure(self, record: LoginFailureRecord, now: float) -> None:
        await self._conn.execute(
            update(login_failures)
            .where(login_failures.c.key == record.key)
            .values(
                failures=record.failures,
                locked_until=record.locked_until,
                strikes=record.strikes,
                updated_at=now,
            )
        )

    async def clear_login_failures(self, key: str) -> None:
        """Forget the recent failures of `key`; its lockout history (strikes) stays."""
        await self._conn.execute(
            update(login_failures).where(login_failures.c.key == key).values(failures=[])
        )

    async def unlock_login(self, key: str) -> None:
        await self._conn.execute(delete(login_failures).where(login_failures.c.key == key))

    # -- windowed counters -------------------------------------------------------------

    async def count(self, key: str, now: float, period: float) -> int:
        """Events of `key` in its current window (0 once the window has passed)."""
        query = select(limit_counters).where(limit_counters.c.key == key)
        row = (await self._conn.execute(query)).first()
        if row is None or row.window_start <= now - period:
            return 0
        return int(row._mapping["count"])

    async def add(self, key: str, now: float, period: float) -> int:
        """Count one event of `key`; return the events in the window, this one included.

        The window starts at the first event and lasts `period`; the next event after it
        starts a new one.
        """
        row = await self._locked_row(limit_counters, key, {"window_start": now, "count": 0})
        if row.window_start <= now - period:
            window_start, count = now, 1
        else:
            window_start, count = row.window_start, int(row._mapping["count"]) + 1
        await self._conn.execute(
            update(limit_counters)
            .where(limit_counters.c.key == key)
            .values(window_start=window_start, count=count)
        )
        return int(count)

    async def reset(self, key: str) -> None:
        await self._conn.execute(delete(limit_counters).where(limit_counters.c.key == key))

    # -- locked code purposes ----------------------------------------------------------

    async def code_locked(self, sub: str, purpose: str) -> bool:
        query = select(code_locks.c.sub).where(
            code_locks.c.sub == sub, code_locks.c.purpose == purpose
        )
        return (await self._conn.execute(query)).first() is not None

    async def lock_codes(self, sub: str, purpose: str, now: float) -> bool:
        """Lock a purpose; False when it already was."""
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(code_locks).values(sub=sub, purpose=purpose, locked_at=now)
                )
        except IntegrityError:
            return False
        return True

    async def unlock_codes(self, sub: str, purposes: tuple[str, ...]) -> list[str]:
        """Lift the locks on `purposes`; return those that were locked."""
        query = select(code_locks.c.purpose).where(
            code_locks.c.sub == sub, code_locks.c.purpose.in_(purposes)
        )
        locked = sorted(str(p) for p in (await self._conn.execute(query)).scalars())
        if locked:
            await self._conn.execute(
                delete(code_locks).where(code_locks.c.sub == sub, code_locks.c.purpose.in_(locked))
            )
        return locked

    # -- housekeeping ------------------------------------------------------------------

    async def purge(self, now: float, older_than: float) -> None:
        """Drop counters and failure records nobody touched for `older_than` seconds."""
        cutoff = now - older_than
        await self._conn.execute(
            delete(limit_counters).where(limit_counters.c.window_start < cutoff)
        )
        await self._conn.execute(
            delete(login_failures).where(
                login_failures.c.updated_at < cutoff,
                (login_failures.c.locked_until.is_(None))
                | (login_failures.c.locked_until < cutoff),
            )
        )


def _failure(row: Any) -> LoginFailureRecord:
    return LoginFailureRecord(
        key=row.key,
        failures=[float(t) for t in row.failures],
        locked_until=row.locked_until,
        strikes=int(row.strikes),
    )
