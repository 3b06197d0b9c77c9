"""One lookup at a time per key, shared by every request that needs it meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedLookup(Generic[T]):
    """Concurrent lookups of one key share the first caller's: when a cached answer
    expires under load, every request in flight would otherwise ask the database at once
    (a stall of tens of milliseconds for all of them). Nothing is cached here."""

    def __init__(self, fetch: Callable[[str], Awaitable[T]]) -> None:
        self._fetch = fetch
        self._running: dict[str, asyncio.Future[T]] = {}

    async def get(self, key: str) -> T:
        running = self._running.get(key)
        if running is not None:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not running.cancelled() or (task is not None and task.cancelling()):
                    raise
            return await self._fetch(key)  # the first caller went away: ask afresh
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            found = await self._fetch(key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked as seen: there may be no other caller
            raise
        finally:
            del self._running[key]
        future.set_result(found)
        return found
