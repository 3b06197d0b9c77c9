"""Tests for failed-login lockouts and sliding-window rate limits, on a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.errors import TooManyRequests
from authgate.identity.throttle import LoginThrottle, RateLimiter


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def throttle(clock: FakeClock) -> LoginThrottle:
    return LoginThrottle(clock=clock)


def retry_after(check: Callable[[], object]) -> int:
    """The retry_after of the TooManyRequests raised by calling `check`."""
    with pytest.raises(TooManyRequests) as caught:
        check()
    value = caught.value.details["retry_after"]
    assert isinstance(value, int)
    return value


def fail(
    throttle: LoginThrottle, times: int, username: str = "alice", ip: str | None = None
) -> None:
    for _ in range(times):
        throttle.check(username, ip)
        throttle.failure(username, ip)


class TestLoginThrottle:
    def test_five_failures_lock_the_sixth_attempt(self, throttle: LoginThrottle) -> None:
        fail(throttle, 4)
        throttle.check("alice", None)
        throttle.failure("alice", None)
        assert retry_after(lambda: throttle.check("alice", None)) == 60

    def test_lock_lifts_and_retry_after_counts_down(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        fail(throttle, 5)
        clock.advance(10.5)
        assert retry_after(lambda: throttle.check("alice", None)) == 50
        clock.advance(49)
        assert retry_after(lambda: throttle.check("alice", None)) == 1
        clock.advance(0.5)
        throttle.check("alice", None)

    def test_retry_after_is_at_least_one_second(self, clock: FakeClock) -> None:
        throttle = LoginThrottle(lockout_base=0.25, lockout_max=0.25, clock=clock)
        fail(throttle, 5)
        assert retry_after(lambda: throttle.check("alice", None)) == 1

    def test_lockout_doubles_each_round_up_to_the_cap(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        seen: list[int] = []
        for _ in range(9):
            fail(throttle, 5)
            lockout = retry_after(lambda: throttle.check("alice", None))
            seen.append(lockout)
            clock.advance(lockout)
        assert seen == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]

    def test_strikes_lapse_after_a_long_quiet_spell(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        fail(throttle, 5)
        clock.advance(60)
        fail(throttle, 5)
        assert retry_after(lambda: throttle.check("alice", None)) == 120
        clock.advance(120 + 2 * 3600)
        fail(throttle, 5)
        assert retry_after(lambda: throttle.check("alice", None)) == 120 * 2
        clock.advance(240 + 2 * 3600 + 1)
        fail(throttle, 5)
        assert retry_after(lambda: throttle.check("alice", None)) == 60

    def test_failures_older_than_the_window_are_forgotten(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        fail(throttle, 4)
        clock.advance(900)
        fail(throttle, 4)
        throttle.check("alice", None)
        throttle.failure("alice", None)
        assert retry_after(lambda: throttle.check("alice", None)) == 60

    def test_failures_inside_the_window_add_up(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        for n in range(5):
            if n:
                clock.advance(899 / 4)
            throttle.failure("alice", None)
        with pytest.raises(TooManyRequests):
            throttle.check("alice", None)

    def test_success_clears_the_username_failures(self, throttle: LoginThrottle) -> None:
        fail(throttle, 4)
        throttle.success("alice")
        fail(throttle, 4)
        throttle.check("alice", None)

    def test_success_keeps_strikes(self, throttle: LoginThrottle, clock: FakeClock) -> None:
        fail(throttle, 5)
        clock.advance(60)
        throttle.success("alice")
        fail(throttle, 5)
        assert retry_after(lambda: throttle.check("alice", None)) == 120

    def test_success_does_not_clear_the_ip(self, throttle: LoginThrottle) -> None:
        for name in ("a", "b", "c", "d"):
            fail(throttle, 1, name, "10.0.0.1")
        throttle.success("a")
        fail(throttle, 1, "e", "10.0.0.1")
        with pytest.raises(TooManyRequests):
            throttle.check("f", "10.0.0.1")

    def test_spraying_usernames_locks_the_ip(self, throttle: LoginThrottle) -> None:
        names = ["u1", "u2", "u3", "u4", "u5"]
        for name in names:
            fail(throttle, 1, name, "10.0.0.1")
        assert retry_after(lambda: throttle.check("someone-else", "10.0.0.1")) == 60
        for name in names:
            throttle.check(name, "10.0.0.2")
            throttle.check(name, None)

    def test_username_lock_applies_from_every_ip(self, throttle: LoginThrottle) -> None:
        for n in range(5):
            fail(throttle, 1, "alice", f"10.0.0.{n}")
        with pytest.raises(TooManyRequests):
            throttle.check("alice", "192.0.2.1")
        throttle.check("bob", "192.0.2.1")

    def test_retry_after_reports_the_longer_of_two_locks(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        fail(throttle, 5, "alice", "10.0.0.1")
        clock.advance(30)
        fail(throttle, 5, "bob", "10.0.0.2")
        assert retry_after(lambda: throttle.check("alice", "10.0.0.2")) == 60

    def test_failures_during_a_lock_do_not_stack(
        self, throttle: LoginThrottle, clock: FakeClock
    ) -> None:
        fail(throttle, 5)
        for _ in range(20):
            throttle.failure("alice", None)
        clock.advance(60)
        throttle.check("alice", None)
        fail(throttle, 4)
        throttle.check("alice", None)

    def test_memory_is_bounded_and_oldest_keys_go_first(self, clock: FakeClock) -> None:
        throttle = LoginThrottle(clock=clock, max_keys=10)
        for n in range(1000):
            throttle.failure(f"user{n}", "10.0.0.1")
            assert len(throttle) <= 10
        fail(throttle, 5, "victim")
        assert len(throttle) == 10
        with pytest.raises(TooManyRequests):
            throttle.check("victim", None)
        for n in range(10):
            throttle.failure(f"spray{n}", None)
        throttle.check("victim", None)

    def test_spraying_from_one_ip_keeps_that_ip_tracked(self, clock: FakeClock) -> None:
        throttle = LoginThrottle(clock=clock, max_keys=3)
        for n in range(4):
            throttle.failure(f"user{n}", "10.0.0.1")
        throttle.failure("last", "10.0.0.1")
        with pytest.raises(TooManyRequests):
            throttle.check("fresh", "10.0.0.1")

    @pytest.mark.parametrize(
        "options",
        [
            {"max_failures": 0},
            {"max_keys": 0},
            {"window": 0},
            {"lockout_base": 0},
            {"lockout_base": 10, "lockout_max": 5},
        ],
    )
    def test_rejects_nonsense_settings(self, options: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            LoginThrottle(**options)


class TestRateLimiter:
    def test_allows_count_then_refuses(self, clock: FakeClock) -> None:
        limiter = RateLimiter(3, 60, clock=clock)
        for _ in range(3):
            limiter.hit("10.0.0.1")
        assert retry_after(lambda: limiter.hit("10.0.0.1")) == 60
        limiter.hit("10.0.0.2")

    def test_allows_again_as_the_window_slides(self, clock: FakeClock) -> None:
        limiter = RateLimiter(2, 60, clock=clock)
        limiter.hit("k")
        clock.advance(20)
        limiter.hit("k")
        clock.advance(10)
        assert retry_after(lambda: limiter.hit("k")) == 30
        clock.advance(30)
        limiter.hit("k")
        assert retry_after(lambda: limiter.hit("k")) == 20
        clock.advance(20)
        limiter.hit("k")

    def test_refused_hits_do_not_count(self, clock: FakeClock) -> None:
        limiter = RateLimiter(1, 10, clock=clock)
        limiter.hit("k")
        for _ in range(9):
            clock.advance(1)
            with pytest.raises(TooManyRequests):
                limiter.hit("k")
        clock.advance(1)
        limiter.hit("k")

    def test_retry_after_rounds_up(self, clock: FakeClock) -> None:
        limiter = RateLimiter(1, 10, clock=clock)
        limiter.hit("k")
        clock.advance(9.9)
        assert retry_after(lambda: limiter.hit("k")) == 1
        clock.advance(0.05)
        assert retry_after(lambda: limiter.hit("k")) == 1

    def test_memory_is_bounded(self, clock: FakeClock) -> None:
        limiter = RateLimiter(1, 60, clock=clock, max_keys=5)
        for n in range(100):
            limiter.hit(f"10.0.0.{n}")
            assert len(limiter) <= 5
        with pytest.raises(TooManyRequests):
            limiter.hit("10.0.0.99")

    @pytest.mark.parametrize(("count", "period"), [(0, 60.0), (1, 0.0), (1, -1.0)])
    def test_rejects_nonsense_settings(self, count: int, period: float) -> None:
        with pytest.raises(ValueError):
            RateLimiter(count, period)

    @given(
        count=st.integers(1, 5),
        period=st.integers(1, 50),
        steps=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["a", "b"])), max_size=80),
    )
    @settings(max_examples=300, deadline=None)
    def test_never_more_than_count_in_any_window(
        self, count: int, period: int, steps: list[tuple[int, str]]
    ) -> None:
        clock = FakeClock(0.0)
        limiter = RateLimiter(count, period, clock=clock)
        accepted: dict[str, list[float]] = {"a": [], "b": []}
        for advance, key in steps:
            clock.advance(advance)
            try:
                limiter.hit(key)
            except TooManyRequests as refused:
                retry = refused.details["retry_after"]
                assert isinstance(retry, int)
                assert 1 <= retry <= period
            else:
                accepted[key].append(clock.now)
        for times in accepted.values():
            for start in times:
                in_window = [t for t in times if start <= t < start + period]
                assert len(in_window) <= count
