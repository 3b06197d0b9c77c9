"""`authgate migrate`: bring the database schema to the newest revision."""

from __future__ import annotations

import asyncio

from authgate.bootstrap import ensure_data_dir, open_store
from authgate.cli.support import ConfigOption, fail, out, settings_or_exit
from authgate.config import ConfigError


def migrate(config: ConfigOption = None) -> None:
    """Bring the database schema to the newest revision."""
    settings = settings_or_exit(config)

    async def run() -> None:
        ensure_data_dir(settings)
        store = await open_store(settings, migrate=True)
        await store.close()

    try:
        asyncio.run(run())
    except ConfigError as exc:
        fail(exc.problems)
    out.print("database is at the newest revision")
