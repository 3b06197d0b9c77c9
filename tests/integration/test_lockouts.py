"""Failed-login lockouts as the database keeps them: on SQLite and PostgreSQL, on a fake clock.

What two replicas and a restart see is in test_replicas.py; here is the rule itself.
"""

from __future__ import annotations

import pytest

from authgate.errors import TooManyRequests
from authgate.identity.throttle import LockoutRule, LoginThrottle
from authgate.store import Store
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(1_000_000.0)


@pytest.fixture
def throttle(store: Store, clock: Clock) -> LoginThrottle:
    return LoginThrottle(store, LockoutRule(), clock)


async def retry_after(throttle: LoginThrottle, username: str, ip: str | None) -> int:
    """The retry_after of the TooManyRequests that checking `username` from `ip` raises."""
    with pytest.raises(TooManyRequests) as caught:
        await throttle.check(username, ip)
    value = caught.value.details["retry_after"]
    assert isinstance(value, int)
    return value


async def failure(throttle: LoginThrottle, username: str, ip: str | None) -> None:
    async with throttle._store.transaction() as tx:
        await throttle.failure(tx, username, ip)


async def success(throttle: LoginThrottle, username: str) -> None:
    async with throttle._store.transaction() as tx:
        await throttle.success(tx, username)


async def fail(
    throttle: LoginThrottle, times: int, username: str = "alice", ip: str | None = None
) -> None:
    for _ in range(times):
        await throttle.check(username, ip)
        await failure(throttle, username, ip)


async def test_five_failures_lock_the_sixth_attempt(throttle: LoginThrottle) -> None:
    await fail(throttle, 4)
    await throttle.check("alice", None)
    await failure(throttle, "alice", None)
    assert await retry_after(throttle, "alice", None) == 60


async def test_lock_lifts_and_retry_after_counts_down(
    throttle: LoginThrottle, clock: Clock
) -> None:
    await fail(throttle, 5)
    clock.advance(10.5)
    assert await retry_after(throttle, "alice", None) == 50
    clock.advance(49)
    assert await retry_after(throttle, "alice", None) == 1
    clock.advance(0.5)
    await throttle.check("alice", None)


async def test_retry_after_is_at_least_one_second(store: Store, clock: Clock) -> None:
    throttle = LoginThrottle(store, LockoutRule(lockout_base=0.25, lockout_max=0.25), clock)
    await fail(throttle, 5)
    assert await retry_after(throttle, "alice", None) == 1


async def test_lockout_doubles_each_round_up_to_the_cap(
    throttle: LoginThrottle, clock: Clock
) -> None:
    seen: list[int] = []
    for _ in range(9):
        await fail(throttle, 5)
        lockout = await retry_after(throttle, "alice", None)
        seen.append(lockout)
        clock.advance(lockout)
    assert seen == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


async def test_strikes_lapse_after_a_long_quiet_spell(
    throttle: LoginThrottle, clock: Clock
) -> None:
    await fail(throttle, 5)
    clock.advance(60)
    await fail(throttle, 5)
    assert await retry_after(throttle, "alice", None) == 120
    clock.advance(120 + 2 * 3600)
    await fail(throttle, 5)
    assert await retry_after(throttle, "alice", None) == 120 * 2
    clock.advance(240 + 2 * 3600 + 1)
    await fail(throttle, 5)
    assert await retry_after(throttle, "alice", None) == 60


async def test_failures_older_than_the_window_are_forgotten(
    throttle: LoginThrottle, clock: Clock
) -> None:
    await fail(throttle, 4)
    clock.advance(900)
    await fail(throttle, 4)
    await throttle.check("alice", None)
    await failure(throttle, "alice", None)
    assert await retry_after(throttle, "alice", None) == 60


async def test_failures_inside_the_window_add_up(throttle: LoginThrottle, clock: Clock) -> None:
    for n in range(5):
        if n:
            clock.advance(899 / 4)
        await failure(throttle, "alice", None)
    with pytest.raises(TooManyRequests):
        await throttle.check("alice", None)


async def test_success_clears_the_username_failures(throttle: LoginThrottle) -> None:
    await fail(throttle, 4)
    await success(throttle, "alice")
    await fail(throttle, 4)
    await throttle.check("alice", None)


async def test_success_keeps_strikes(throttle: LoginThrottle, clock: Clock) -> None:
    await fail(throttle, 5)
    clock.advance(60)
    await success(throttle, "alice")
    await fail(throttle, 5)
    assert await retry_after(throttle, "alice", None) == 120


async def test_success_does_not_clear_the_ip(throttle: LoginThrottle) -> None:
    for name in ("a", "b", "c", "d"):
        await fail(throttle, 1, name, "10.0.0.1")
    await success(throttle, "a")
    await fail(throttle, 1, "e", "10.0.0.1")
    with pytest.raises(TooManyRequests):
        await throttle.check("f", "10.0.0.1")


async def test_spraying_usernames_locks_the_ip(throttle: LoginThrottle) -> None:
    names = ["u1", "u2", "u3", "u4", "u5"]
    for name in names:
        await fail(throttle, 1, name, "10.0.0.1")
    assert await retry_after(throttle, "someone-else", "10.0.0.1") == 60
    for name in names:
        await throttle.check(name, "10.0.0.2")
        await throttle.check(name, None)


async def test_username_lock_applies_from_every_ip(throttle: LoginThrottle) -> None:
    for n in range(5):
        await fail(throttle, 1, "alice", f"10.0.0.{n}")
    with pytest.raises(TooManyRequests):
        await throttle.check("alice", "192.0.2.1")
    await throttle.check("bob", "192.0.2.1")


async def test_retry_after_reports_the_longer_of_two_locks(
    throttle: LoginThrottle, clock: Clock
) -> None:
    await fail(throttle, 5, "alice", "10.0.0.1")
    clock.advance(30)
    await fail(throttle, 5, "bob", "10.0.0.2")
    assert await retry_after(throttle, "alice", "10.0.0.2") == 60


async def test_failures_during_a_lock_do_not_stack(throttle: LoginThrottle, clock: Clock) -> None:
    await fail(throttle, 5)
    for _ in range(20):
        await failure(throttle, "alice", None)
    clock.advance(60)
    await throttle.check("alice", None)
    await fail(throttle, 4)
    await throttle.check("alice", None)


async def test_records_nobody_touched_for_the_rules_memory_are_purged(
    store: Store, throttle: LoginThrottle, clock: Clock
) -> None:
    await fail(throttle, 5, "old")
    clock.advance(throttle.rule.memory + 3600)
    await fail(throttle, 1, "recent")
    async with store.transaction() as tx:
        await tx.limits.purge(clock(), throttle.rule.memory)
    async with store.read() as tx:
        kept = await tx.limits.login_failures(["user:old", "user:recent"])
    assert [record.key for record in kept] == ["user:recent"]


async def test_two_processes_on_one_database_share_one_count(
    store: Store, db_url: str, clock: Clock
) -> None:
    other = Store(db_url)
    try:
        first = LoginThrottle(store, LockoutRule(), clock)
        second = LoginThrottle(other, LockoutRule(), clock)
        await fail(first, 3)
        await fail(second, 2)
        assert await retry_after(first, "alice", None) == 60
        assert await retry_after(second, "alice", None) == 60
    finally:
        await other.close()
