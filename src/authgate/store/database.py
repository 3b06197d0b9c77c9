"""The database: engine set-up per backend and one transaction per unit of work.

Every account or credential change runs inside `Store.transaction()`, so a crash leaves
the old state or the new, never half. On SQLite, transactions start with
`BEGIN IMMEDIATE`: a read that later writes would otherwise fail with SQLITE_BUSY when
another writer got in between, and the busy timeout makes writers queue instead.

A database that is away or does not answer is `StorageUnavailable`, raised within
`database.timeout` (connecting, waiting for a pooled connection, each statement): the
adapters answer 503 and the caller may retry. Nothing else about the error leaves here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from authgate.errors import StorageUnavailable
from authgate.store.audit import AuditRepository
from authgate.store.browser_sessions import BrowserSessionRepository
from authgate.store.credentials import (
    ClientRepository,
    CodeRepository,
    KeyRepository,
    RefreshTokenRepository,
)
from authgate.store.federation import FederationRepository
from authgate.store.limits import LimitRepository
from authgate.store.mfa import MfaRepository
from authgate.store.oauth import OAuthRepository
from authgate.store.passkeys import PasskeyRepository
from authgate.store.policies import PolicyRepository
from authgate.store.sqlite_driver import OneTripDBAPI
from authgate.store.srp import SrpRepository
from authgate.store.users import GroupRepository, UserRepository

READ_ONLY = "authgate_read_only"
SQLITE_MIN_BUSY = 10.0
"""SQLite is a local file: waiting for its write lock is load, not an outage, so writers
queue at least this long whatever `database.timeout` says."""

log = logging.getLogger("authgate.store")


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
        self.federation = FederationRepository(conn)
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction has committed (never when it rolls back):
        for in-memory state that must follow the database, not lead it."""
        self._after_commit.append(action)

    def _committed(self) -> None:
        for action in self._after_commit:
            action()


def _configure_sqlite(engine: AsyncEngine, busy_timeout: float) -> None:
    busy_ms = int(max(busy_timeout, SQLITE_MIN_BUSY) * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(
    url: str, pool_size: int = 10, timeout: float = 2.0, *, bound_statements: bool = True
) -> AsyncEngine:
    """An engine whose every wait on the database is bounded by `timeout` seconds (each
    statement too, unless not `bound_statements`); pooled connections are checked before
    use, so a database that came back is used again."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options = {"module": OneTripDBAPI()} if parsed.get_driver_name() == "aiosqlite" else {}
        engine = create_async_engine(url, **options)
        _configure_sqlite(engine, timeout)
        return engine
    connect_args: dict[str, float] = {"timeout": timeout}
    if bound_statements:
        connect_args["command_timeout"] = timeout
    return create_async_engine(
        url,
        pool_size=pool_size,
        pool_pre_ping=True,
        pool_timeout=timeout,
        connect_args=connect_args,
    )


_UNREACHABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    TimeoutError,
    OSError,
)
"""What is raised when the database is away, refuses, or is too slow."""


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, _UNREACHABLE):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def _ignore(seconds: float) -> None:
    return None


class Store:
    def __init__(self, url: str, pool_size: int = 10, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self.engine = create_engine(url, pool_size, timeout)
        # SQLite has one writer at a time. Queueing writers here wakes the next one the
        # moment the last commits; SQLite's own busy handler would sleep in coarse steps.
        self._writer = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        self.on_pool_wait: Callable[[float], None] = _ignore
        """Told how long each unit of work waited for a connection (metrics)."""

    @asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        """Turn "the database is away" into StorageUnavailable; other errors pass."""
        try:
            yield
        except Exception as exc:
            if isinstance(exc, StorageUnavailable) or not _unavailable(exc):
                raise
            # The class only: SQLAlchemy's text carries the statement and its parameters.
            cause = type(getattr(exc, "orig", None) or exc).__name__
            log.warning("the database is unavailable (%s)", cause)
            raise StorageUnavailable(retry_after=self.retry_after) from exc

    @property
    def retry_after(self) -> int:
        """Whole seconds a client should wait before retrying a refused request."""
        return max(1, math.ceil(self.timeout))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A read-write transaction: all of it commits, or none of it; StorageUnavailable
        when the database cannot be reached in time."""
        async with self._reachable(), self._transaction() as tx:
            yield tx
        tx._committed()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Transaction]:
        if self._writer is None:
            async with self._connection() as conn, conn.begin():
                tx = Transaction(conn)
                yield tx
        else:
            async with self._writer, self._connection() as conn, conn.begin():
                tx = Transaction(conn)
                yield tx

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
        """A consistent read that takes no write lock (writes in it are a mistake);
        StorageUnavailable when the database cannot be reached in time."""
        async with self._reachable(), self._connection() as conn:
            conn = await conn.execution_options(**{READ_ONLY: True})
            async with conn.begin():
                yield Transaction(conn)

    @asynccontextmanager
    async def unbounded(self) -> AsyncIterator[AsyncConnection]:
        """One transaction whose statements may take as long as they need (migrations: a
        new index on a large table must not be cut off at `database.timeout`)."""
        if self._writer is not None:  # SQLite: its statements have no timeout anyway
            async with self._writer, self.engine.begin() as conn:
                yield conn
            return
        engine = create_engine(self.url, 1, self.timeout, bound_statements=False)
        try:
            async with engine.begin() as conn:
                yield conn
        finally:
            await engine.dispose()

    async def ping(self) -> bool:
        """Whether the database answers within `database.timeout` (the readiness probe)."""
        try:
            async with asyncio.timeout(self.timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
