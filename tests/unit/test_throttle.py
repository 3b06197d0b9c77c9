"""The lockout rule's settings and sliding-window rate limits, on a fake clock.

Lockouts themselves live in the database: tests/integration/test_lockouts.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.errors import TooManyRequests
from authgate.identity.throttle import LockoutRule, RateLimiter
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def retry_after(check: Callable[[], object]) -> int:
    """The retry_after of the TooManyRequests raised by calling `check`."""
    with pytest.raises(TooManyRequests) as caught:
        check()
    value = caught.value.details["retry_after"]
    assert isinstance(value, int)
    return value


class TestLockoutRule:
    @pytest.mark.parametrize(
        "options",
        [
            {"max_failures": 0},
            {"window": 0},
            {"lockout_base": 0},
            {"lockout_base": 10, "lockout_max": 5},
        ],
    )
    def test_rejects_nonsense_settings(self, options: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            LockoutRule(**options)

    def test_remembers_a_key_as_long_as_its_strikes_matter(self) -> None:
        rule = LockoutRule(window=900, lockout_base=60, lockout_max=3600)
        assert rule.memory == 3 * 3600


class TestRateLimiter:
    def test_allows_count_then_refuses(self, clock: Clock) -> None:
        limiter = RateLimiter(3, 60, clock=clock)
        for _ in range(3):
            limiter.hit("10.0.0.1")
        assert retry_after(lambda: limiter.hit("10.0.0.1")) == 60
        limiter.hit("10.0.0.2")

    def test_allows_again_as_the_window_slides(self, clock: Clock) -> None:
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

    def test_refused_hits_do_not_count(self, clock: Clock) -> None:
        limiter = RateLimiter(1, 10, clock=clock)
        limiter.hit("k")
        for _ in range(9):
            clock.advance(1)
            with pytest.raises(TooManyRequests):
                limiter.hit("k")
        clock.advance(1)
        limiter.hit("k")

    def test_retry_after_rounds_up(self, clock: Clock) -> None:
        limiter = RateLimiter(1, 10, clock=clock)
        limiter.hit("k")
        clock.advance(9.9)
        assert retry_after(lambda: limiter.hit("k")) == 1
        clock.advance(0.05)
        assert retry_after(lambda: limiter.hit("k")) == 1

    def test_memory_is_bounded(self, clock: Clock) -> None:
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
        clock = Clock(0.0)
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
