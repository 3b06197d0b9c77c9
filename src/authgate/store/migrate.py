"""Apply Alembic migrations programmatically, on the async engine's connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from authgate.store.database import Store

_SCRIPTS = str(Path(__file__).parent / "migrations")


def _config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    config.attributes["connection"] = connection
    return config


async def upgrade(store: Store, revision: str = "head") -> None:
    async with store.unbounded() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), revision))


async def downgrade(store: Store, revision: str) -> None:
    async with store.unbounded() as conn:
        await conn.run_sync(lambda sync: command.downgrade(_config(sync), revision))


async def is_current(store: Store) -> bool:
    """True when the database is at the newest revision."""

    def _check(sync: Any) -> bool:
        head = ScriptDirectory.from_config(_config(sync)).get_current_head()
        return MigrationContext.configure(sync).get_current_revision() == head

    async with store.engine.connect() as conn:
        return await conn.run_sync(_check)
