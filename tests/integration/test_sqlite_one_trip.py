"""authgate's SQLite engine runs each statement in one trip to aiosqlite's thread, and
answers exactly as SQLAlchemy's stock aiosqlite driver does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from authgate.store.database import create_engine
from authgate.store.sqlite_driver import OneTripDBAPI

Work = Callable[[AsyncConnection], Awaitable[Any]]


def run_on(engine_of: Callable[[], AsyncEngine], work: Work) -> Any:
    async def go() -> Any:
        engine = engine_of()
        try:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
                await conn.execute(text("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')"))
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def both(tmp_path: Path, work: Work) -> tuple[Any, Any]:
    """The outcome of `work` on authgate's engine, and on SQLAlchemy's stock driver."""
    ours = run_on(lambda: create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ours.db'}"), work)
    stock = run_on(lambda: create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}"), work)
    return ours, stock


def test_the_sqlite_engine_uses_the_one_trip_driver(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")

    assert isinstance(engine.dialect.dbapi, OneTripDBAPI)


def test_selected_rows_and_their_columns_are_the_stock_drivers(tmp_path: Path) -> None:
    async def work(conn: AsyncConnection) -> Any:
        result = await conn.execute(text("SELECT k, v FROM t WHERE k >= :k ORDER BY k"), {"k": 2})
        return list(result.keys()), [tuple(row) for row in result]

    ours, stock = both(tmp_path, work)

    assert ours == stock == (["k", "v"], [(2, "b"), (3, "c")])


def test_updated_row_counts_are_the_stock_drivers(tmp_path: Path) -> None:
    async def work(conn: AsyncConnection) -> Any:
        changed = await conn.execute(text("UPDATE t SET v = v || '!' WHERE k > 1"))
        unchanged = await conn.execute(text("UPDATE t SET v = 'z' WHERE k = 99"))
        return changed.rowcount, unchanged.rowcount

    ours, stock = both(tmp_path, work)

    assert ours == stock == (2, 0)


def test_inserted_primary_keys_are_the_stock_drivers(tmp_path: Path) -> None:
    async def work(conn: AsyncConnection) -> Any:
        result = await conn.execute(text("INSERT INTO t (v) VALUES ('d')"))
        return result.lastrowid

    ours, stock = both(tmp_path, work)

    assert ours == stock == 4


def test_many_rows_inserted_in_one_statement(tmp_path: Path) -> None:
    async def work(conn: AsyncConnection) -> Any:
        rows = [{"v": "x"}, {"v": "y"}]
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), rows)
        return (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()

    ours, stock = both(tmp_path, work)

    assert ours == stock == 5


def test_a_constraint_violation_is_sqlalchemys_integrity_error(tmp_path: Path) -> None:
    async def work(conn: AsyncConnection) -> Any:
        with pytest.raises(exc.IntegrityError) as raised:
            await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        return type(raised.value.orig).__name__

    ours, stock = both(tmp_path, work)

    assert ours == stock == "IntegrityError"


def test_a_statement_is_one_trip_to_the_connection_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []
    queue = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await queue(self, fn, *args, **kwargs)

    async def work(conn: AsyncConnection) -> Any:
        trips.clear()
        await conn.execute(text("SELECT v FROM t WHERE k = 1"))
        await conn.execute(text("UPDATE t SET v = 'q' WHERE k = 1"))
        return list(trips)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    ours = run_on(lambda: create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"), work)

    assert ours == ["_run", "_run"]
