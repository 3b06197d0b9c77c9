"""The Redis GCRA script computes what the Python GCRA computes, step for step."""

from __future__ import annotations

import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.cluster.gcra import SCRIPT, SLACK_MS, gcra_step
from tests.redis_support import redis_or_skip, unique_prefix

requests = st.lists(st.floats(min_value=0, max_value=120_000, allow_nan=False), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=50),
    period_ms=st.floats(min_value=1, max_value=3_600_000, allow_nan=False),
    gaps=requests,
)
def test_script_admits_and_refuses_as_the_python_gcra(
    count: int, period_ms: float, gaps: list[float]
) -> None:
    client: redis.Redis = redis_or_skip()
    script = client.register_script(SCRIPT)
    key = unique_prefix("gcra") + "k"
    interval = period_ms / count
    now = 1_733_475_000_000.0
    tat: float | None = None
    try:
        for gap in gaps:
            now += gap
            admitted, wait = script(keys=[key], args=[interval, period_ms, now, SLACK_MS])
            expected_tat, expected_wait = gcra_step(tat, now, interval, period_ms)
            assert int(admitted) == (expected_wait == 0.0)
            assert float(wait) == expected_wait
            if expected_wait == 0.0:
                tat = expected_tat
    finally:
        client.delete(key)


def test_a_full_bucket_admits_count_requests_at_once() -> None:
    client: redis.Redis = redis_or_skip()
    script = client.register_script(SCRIPT)
    key = unique_prefix("gcra") + "burst"
    now = 1_733_475_000_000.0
    answers = [int(script(keys=[key], args=[6000.0, 60000.0, now, SLACK_MS])[0]) for _ in range(11)]
    client.delete(key)
    assert answers == [1] * 10 + [0]


def test_a_key_expires_when_its_arrival_time_is_reached() -> None:
    client: redis.Redis = redis_or_skip()
    script = client.register_script(SCRIPT)
    key = unique_prefix("gcra") + "ttl"
    script(keys=[key], args=[6000.0, 60000.0, "", SLACK_MS])
    ttl = client.pttl(key)
    client.delete(key)
    assert 0 < ttl <= 6000
