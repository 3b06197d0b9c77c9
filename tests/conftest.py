"""Shared fixtures: a migrated, empty store on each backend (SQLite and PostgreSQL), and
the Hypothesis profile of every run.

PostgreSQL runs on a throw-away database created for the test session. Without a
reachable server those tests are skipped, except on CI, where they must run.

Property tests draw fresh examples in every run, on CI too (Hypothesis's own "ci" profile
would derandomize them there, so CI would only ever try the same examples): the run's seed
is random unless `HYPOTHESIS_SEED` (or `--hypothesis-seed`) gives one, and it is printed in
the report header and again after failures. Replay a failed run with
`HYPOTHESIS_SEED=<seed> pytest <test>`; a failure also prints `@reproduce_failure(...)`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import URL, make_url

from authgate.store import Store
from authgate.store.migrate import upgrade
from authgate.store.tables import metadata

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

settings.register_profile(
    "authgate",
    derandomize=False,
    print_blob=True,
    deadline=None,  # no timing thresholds: the machine may be busy
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("authgate")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Fix the run's Hypothesis seed before Hypothesis's plugin reads it; a pytest-xdist
    worker takes the one its controller chose and printed."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:
        config.option.hypothesis_seed = worker_input["hypothesis_seed"]
        return
    seed = config.getoption("hypothesis_seed", None) or os.environ.get("HYPOTHESIS_SEED")
    config.option.hypothesis_seed = str(seed or secrets.randbelow(2**32))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand the run's seed to each pytest-xdist worker (`-n`)."""
    node.workerinput["hypothesis_seed"] = node.config.option.hypothesis_seed


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.option.hypothesis_seed
    return f"hypothesis seed {seed} (replay: HYPOTHESIS_SEED={seed} pytest ...)"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """The seed again at the end, where `pytest -q` (no header) shows it too."""
    seed = config.option.hypothesis_seed
    terminalreporter.write_line(f"hypothesis seed {seed}: replay with HYPOTHESIS_SEED={seed}")


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_database(base: URL, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(base), timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(base: URL, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(base), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    store = Store(url)
    try:
        await upgrade(store)
    finally:
        await store.close()


async def _empty_tables(url: URL) -> None:
    tables = ", ".join(f'"{table.name}"' for table in reversed(metadata.sorted_tables))
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


def postgres_base_url() -> URL:
    return make_url(os.environ.get("AUTHGATE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def create_database_or_skip(base: URL, name: str) -> None:
    """Create a database; skip when PostgreSQL is not reachable (fail on CI, where it must be)."""
    try:
        asyncio.run(_create_database(base, name))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        message = f"PostgreSQL not reachable at {base.render_as_string()}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database, dropped when the session ends."""
    base = postgres_base_url()
    name = f"authgate_test_{secrets.token_hex(4)}"
    create_database_or_skip(base, name)
    url = base.set(database=name)
    try:
        asyncio.run(_migrate(url.render_as_string(hide_password=False)))
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_drop_database(base, name))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database: a new SQLite file, or the emptied session PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'authgate.db'}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_empty_tables(make_url(url)))
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """A migrated `Store` on `db_url`, closed after the test."""
    store = Store(db_url)
    await upgrade(store)
    yield store
    await store.close()
