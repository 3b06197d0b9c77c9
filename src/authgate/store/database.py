"""The database: engine set-up per backend and one transaction per unit of work.

Every account or credential change runs inside `Store.transaction()`, so a crash leaves
the old state or the new, never half. On SQLite, transactions start with
`BEGIN IMMEDIATE`: a read that later writes would otherwise fail with SQLITE_BUSY when
another writer got in between, and the busy timeout makes writers queue instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from authgate.store.audit import AuditRepository
from authgate.store.browser_sessions import BrowserSessionRepository
from authgate.store.credentials import (
    ClientRepository,
    CodeRepository,
    KeyRepository,
    RefreshTokenRepository,
)
from authgate.store.limits import LimitRepository
from authgate.store.mfa import MfaRepository
from authgate.store.oauth import OAuthRepository
from authgate.store.passkeys import PasskeyRepository
from authgate.store.policies import PolicyRepository
from authgate.store.srp import SrpRepository
from authgate.store.users import GroupRepository, UserRepository

READ_ONLY = "authgate_read_only"


class Transaction:
    """The repositories, all bound to one open transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.users = UserRepository(conn)
        self.groups = GroupRepository(conn)
        self.clients = ClientRepository(conn)
        self.keys = KeyRepository(conn)
        self.codes = CodeRepository(conn)
        self.refresh = RefreshTokenRepository(conn)
        self.audit = AuditRepository(conn)
        self.oauth = OAuthRepository(conn)
        self.policies = PolicyRepository(conn)
        self.limits = LimitRepository(conn)
        self.browser_sessions = BrowserSessionRepository(conn)
        self.passkeys = PasskeyRepository(conn)
        self.mfa = MfaRepository(conn)
        self.srp = SrpRepository(conn)
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction has committed (never when it rolls back):
        for in-memory state that must follow the database, not lead it."""
        self._after_commit.append(action)

    def _committed(self) -> None:
        for action in self._after_commit:
            action()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=pool_size, pool_pre_ping=True)


def _ignore(seconds: float) -> None:
    return None


class Store:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size)
        # SQLite has one writer at a time. Queueing writers here wakes the next one the
        # moment the last commits; SQLite's own busy handler would sleep in coarse steps.
        self._writer = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        self.on_pool_wait: Callable[[float], None] = _ignore
        """Told how long each unit of work waited for a connection (metrics)."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A read-write transaction: all of it commits, or none of it."""
        if self._writer is None:
            async with self._connection() as conn, conn.begin():
                tx = Transaction(conn)
                yield tx
        else:
            async with self._writer, self._connection() as conn, conn.begin():
                tx = Transaction(conn)
                yield tx
        tx._committed()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection; how long it took to get one goes to `on_pool_wait`."""
        asked = time.perf_counter()
        async with self.engine.connect() as conn:
            self.on_pool_wait(time.perf_counter() - asked)
            yield conn

    def connections_in_use(self) -> int:
        """Connections checked out of the pool now (0 for a pool that does not count)."""
        checkedout = getattr(self.engine.pool, "checkedout", None)
        return int(checkedout()) if callable(checkedout) else 0

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Transaction]:
        """A consistent read that takes no write lock (writes in it are a mistake)."""
        async with self._connection() as conn:
            conn = await conn.execution_options(**{READ_ONLY: True})
            async with conn.begin():
                yield Transaction(conn)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
