"""SharedLookup: concurrent lookups of one key cost one fetch, and nothing is cached."""

from __future__ import annotations

import asyncio

import pytest

from authgate.gateway.singleflight import SharedLookup


class Source:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.fail = False

    async def fetch(self, key: str) -> str:
        self.calls.append(key)
        await self.release.wait()
        if self.fail:
            raise LookupError(key)
        return f"value of {key}"


async def test_concurrent_lookups_of_one_key_share_one_fetch() -> None:
    source = Source()
    lookup = SharedLookup(source.fetch)
    waiting = [asyncio.create_task(lookup.get("a")) for _ in range(5)]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*waiting) == ["value of a"] * 5
    assert source.calls == ["a"]


async def test_different_keys_are_fetched_separately() -> None:
    source = Source()
    lookup = SharedLookup(source.fetch)
    source.release.set()
    assert await asyncio.gather(lookup.get("a"), lookup.get("b")) == ["value of a", "value of b"]
    assert sorted(source.calls) == ["a", "b"]


async def test_a_later_lookup_fetches_again() -> None:
    source = Source()
    source.release.set()
    lookup = SharedLookup(source.fetch)
    await lookup.get("a")
    await lookup.get("a")
    assert source.calls == ["a", "a"]


async def test_a_failure_reaches_every_waiting_caller() -> None:
    source = Source()
    source.fail = True
    lookup = SharedLookup(source.fetch)
    waiting = [asyncio.create_task(lookup.get("a")) for _ in range(3)]
    await asyncio.sleep(0)
    source.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)
    assert source.calls == ["a"]


async def test_followers_fetch_afresh_when_the_first_caller_is_cancelled() -> None:
    source = Source()
    lookup = SharedLookup(source.fetch)
    first = asyncio.create_task(lookup.get("a"))
    await asyncio.sleep(0)
    follower = asyncio.create_task(lookup.get("a"))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    source.release.set()
    assert await follower == "value of a"
    assert source.calls == ["a", "a"]
