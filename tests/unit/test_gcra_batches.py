"""Checks asked for together go to Redis as one batch, each spending its budget once."""

from __future__ import annotations

import asyncio

from authgate.cluster.gcra import SharedLimiter
from authgate.cluster.link import RedisLink
from tests.redis_support import REDIS_URL, redis_or_skip, unique_prefix

NOW_MS = 1_733_475_000_000.0


async def checks_at_once(limiter: SharedLimiter, key: str, count: int) -> list[float]:
    """`count` checks of a 10-per-minute budget, all asked for in one turn of the loop."""
    waits = [limiter.wait(key, 10, 60.0, now_ms=NOW_MS) for _ in range(count)]
    return list(await asyncio.gather(*waits))


def limiter_at(url: str, prefix: str) -> tuple[SharedLimiter, RedisLink]:
    link = RedisLink(url, prefix)
    return SharedLimiter(link), link


def test_a_batch_of_fifteen_admits_the_ten_the_budget_holds() -> None:
    client = redis_or_skip()
    prefix = unique_prefix("gcra-batch")

    async def run() -> list[float]:
        limiter, link = limiter_at(REDIS_URL, prefix)
        waits = await checks_at_once(limiter, "burst", 15)
        await link.aclose()
        return waits

    waits = asyncio.run(run())
    client.delete(prefix + "burst")
    assert waits[:10] == [0.0] * 10
    assert all(wait > 0 for wait in waits[10:])


def test_a_batch_after_redis_forgot_the_script_spends_each_check_once() -> None:
    client = redis_or_skip()
    prefix = unique_prefix("gcra-batch")

    async def run() -> tuple[list[float], list[float]]:
        limiter, link = limiter_at(REDIS_URL, prefix)
        client.script_flush()
        first = await checks_at_once(limiter, "flushed", 3)
        client.script_flush()
        second = await checks_at_once(limiter, "flushed", 10)
        await link.aclose()
        return first, second

    first, second = asyncio.run(run())
    client.delete(prefix + "flushed")
    assert first == [0.0] * 3
    assert second.count(0.0) == 7


def test_a_batch_while_redis_is_unreachable_admits_every_check() -> None:
    async def run() -> tuple[list[float], RedisLink]:
        limiter, link = limiter_at("redis://127.0.0.1:9/0", unique_prefix("gcra-batch"))
        waits = await checks_at_once(limiter, "down", 4)
        await link.aclose()
        return waits, link

    waits, link = asyncio.run(run())
    assert waits == [0.0] * 4
    assert not link.up and link.failures == 4


def test_checks_asked_for_together_share_one_connection_and_round_trip() -> None:
    client = redis_or_skip()
    prefix = unique_prefix("gcra-batch")
    name = prefix.replace(":", "-").rstrip("-")

    async def run() -> tuple[list[float], int]:
        limiter, link = limiter_at(REDIS_URL, prefix)
        link.client.connection_pool.connection_kwargs["client_name"] = name
        waits = await checks_at_once(limiter, "together", 15)
        connections = sum(1 for c in client.client_list() if c.get("name") == name)
        await link.aclose()
        return waits, connections

    waits, connections = asyncio.run(run())
    client.delete(prefix + "together")
    assert waits.count(0.0) == 10
    assert connections == 1  # sent one by one, 15 checks in flight would hold 15
