"""Per-route rate limits: GCRA arithmetic on an injected clock, whose budget a request
spends, and the client address behind trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.gateway.principal import ANONYMOUS, Principal
from authgate.gateway.ratelimit import (
    UNKNOWN_ADDRESS,
    Limit,
    RateLimited,
    RateLimits,
    caller_key,
    client_address,
)
from tests.clock import Clock

ROUTE = "orders"


def admitted(limits: RateLimits, key: str, limit: Limit, tries: int) -> int:
    """How many of `tries` requests at the current instant pass."""
    passed = 0
    for _ in range(tries):
        try:
            limits.hit(ROUTE, key, limit)
        except RateLimited:
            continue
        passed += 1
    return passed


def retry_after(limits: RateLimits, key: str, limit: Limit) -> int:
    with pytest.raises(RateLimited) as caught:
        limits.hit(ROUTE, key, limit)
    return caught.value.retry_after


# -- the bucket ------------------------------------------------------------------------


def test_a_full_bucket_admits_count_at_once_then_refuses() -> None:
    limits = RateLimits(clock=Clock(5000.0))
    assert admitted(limits, "a", Limit(3, 60), tries=5) == 3


def test_retry_after_is_when_one_request_has_refilled() -> None:
    clock = Clock(5000.0)
    limits = RateLimits(clock=clock)
    admitted(limits, "a", Limit(3, 60), tries=3)
    assert retry_after(limits, "a", Limit(3, 60)) == 20
    clock.now += 19.5
    assert retry_after(limits, "a", Limit(3, 60)) == 1
    clock.now += 0.5
    assert admitted(limits, "a", Limit(3, 60), tries=2) == 1


def test_retry_after_is_at_least_one_second() -> None:
    clock = Clock(5000.0)
    limits = RateLimits(clock=clock)
    admitted(limits, "a", Limit(1000, 1), tries=1000)
    assert retry_after(limits, "a", Limit(1000, 1)) == 1


def test_refused_requests_do_not_push_the_wait_further() -> None:
    limits = RateLimits(clock=Clock(5000.0))
    admitted(limits, "a", Limit(2, 10), tries=2)
    waits = {retry_after(limits, "a", Limit(2, 10)) for _ in range(10)}
    assert waits == {5}


def test_a_quiet_period_refills_the_whole_bucket_and_no_more() -> None:
    clock = Clock(5000.0)
    limits = RateLimits(clock=clock)
    admitted(limits, "a", Limit(4, 60), tries=4)
    clock.now += 3600
    assert admitted(limits, "a", Limit(4, 60), tries=10) == 4


def test_keys_and_routes_have_budgets_of_their_own() -> None:
    limits = RateLimits(clock=Clock(5000.0))
    admitted(limits, "a", Limit(1, 60), tries=1)
    assert admitted(limits, "b", Limit(1, 60), tries=1) == 1
    limits.hit("other-route", "a", Limit(1, 60))
    assert admitted(limits, "a", Limit(1, 60), tries=1) == 0


def test_the_hundredth_of_a_hundred_per_minute_passes_despite_float_rounding() -> None:
    limits = RateLimits(clock=Clock(5000.0))
    assert admitted(limits, "a", Limit(100, 60), tries=101) == 100


@given(
    count=st.integers(1, 500),
    period=st.sampled_from([1.0, 60.0, 3600.0, 86400.0]),
    steps=st.lists(st.floats(0, 100, allow_nan=False), max_size=60),
)
def test_no_window_of_one_period_admits_more_than_count_plus_refill(
    count: int, period: float, steps: list[float]
) -> None:
    """Over any span of t seconds GCRA admits at most count + t / interval requests."""
    clock = Clock(5000.0)
    limits = RateLimits(clock=clock)
    limit = Limit(count, period)
    times: list[float] = []
    for step in steps:
        clock.now += step
        if admitted(limits, "k", limit, tries=1):
            times.append(clock.now)
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            span = times[j] - start
            assert j - i + 1 <= count + span / limit.interval + 1e-6


@given(count=st.integers(1, 1000), period=st.sampled_from([1.0, 60.0, 3600.0, 86400.0]))
def test_a_fresh_key_gets_exactly_count_requests_at_one_instant(count: int, period: float) -> None:
    limits = RateLimits(clock=Clock(5000.0))
    assert admitted(limits, "k", Limit(count, period), tries=count + 3) == count


# -- bounded memory --------------------------------------------------------------------


def test_a_flood_of_keys_keeps_memory_bounded() -> None:
    limits = RateLimits(clock=Clock(5000.0), max_keys=100)
    for n in range(10_000):
        limits.hit(ROUTE, f"ip:10.0.{n // 256}.{n % 256}", Limit(5, 60))
    assert len(limits) == 100


def test_the_least_recently_seen_key_is_forgotten_first() -> None:
    limits = RateLimits(clock=Clock(5000.0), max_keys=2)
    limits.hit(ROUTE, "busy", Limit(1, 60))
    limits.hit(ROUTE, "idle", Limit(1, 60))
    assert admitted(limits, "busy", Limit(1, 60), tries=1) == 0  # refused, yet seen
    limits.hit(ROUTE, "new", Limit(1, 60))
    assert admitted(limits, "busy", Limit(1, 60), tries=1) == 0
    assert admitted(limits, "idle", Limit(1, 60), tries=1) == 1  # forgotten: fresh


@pytest.mark.parametrize(("count", "period"), [(0, 60.0), (1, 0.0), (-1, 1.0)])
def test_an_impossible_limit_is_refused(count: int, period: float) -> None:
    with pytest.raises(ValueError):
        Limit(count, period)


# -- whose budget ----------------------------------------------------------------------

USER = Principal(method="jwt", subject="u-1", client_id="app")
MACHINE = Principal(method="jwt", subject="svc", client_id="svc")
BASIC = Principal(method="client_credentials", client_id="svc")


@pytest.mark.parametrize(
    ("kind", "principal", "key"),
    [
        ("subject", USER, "sub:u-1"),
        ("subject", BASIC, "client:svc"),
        ("subject", ANONYMOUS, "ip:192.0.2.7"),
        ("client", USER, "client:app"),
        ("client", ANONYMOUS, "ip:192.0.2.7"),
        ("ip", USER, "ip:192.0.2.7"),
    ],
)
def test_the_key_falls_back_from_subject_to_client_to_address(
    kind: str, principal: Principal, key: str
) -> None:
    assert caller_key(kind, principal, "192.0.2.7") == key


def test_a_subject_named_like_an_address_does_not_share_its_budget() -> None:
    named = Principal(method="jwt", subject="192.0.2.7")
    assert caller_key("subject", named, "192.0.2.7") != caller_key("ip", named, "192.0.2.7")


# -- the client address ----------------------------------------------------------------

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.2/32")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        ("203.0.113.9", [], "203.0.113.9"),
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # a stranger's header is ignored
        ("127.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("127.0.0.2", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # right-most untrusted
        ("127.0.0.2", ["198.51.100.1, 10.1.1.1"], "198.51.100.1"),  # skips trusted hops
        ("127.0.0.2", ["6.6.6.6", "198.51.100.1, 10.1.1.1"], "198.51.100.1"),  # two lines
        ("127.0.0.2", ["10.2.2.2, 10.1.1.1"], "10.2.2.2"),  # all trusted: the left-most
        ("127.0.0.2", [], "127.0.0.2"),
        ("127.0.0.2", ["junk, 10.1.1.1"], "10.1.1.1"),  # stop at the last believable hop
        ("127.0.0.2", ["2001:db8::1"], "2001:db8::1"),
        ("127.0.0.2", ["[2001:db8::1]"], "2001:db8::1"),
        (None, ["198.51.100.1"], UNKNOWN_ADDRESS),
    ],
)
def test_the_client_address_is_the_right_most_untrusted_hop(
    peer: str | None, forwarded: list[str], address: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == address


_UNTRUSTED = st.ip_addresses(v=4).filter(lambda a: not any(a in n for n in PROXIES)).map(str)
_HOPS = st.lists(st.one_of(_UNTRUSTED, st.sampled_from(["10.0.0.1", "junk", " ", "1.2.3.4:80"])))


@given(peer=_UNTRUSTED, hops=_HOPS)
def test_an_untrusted_peer_is_never_overridden_by_its_header(peer: str, hops: list[str]) -> None:
    assert client_address(peer, [", ".join(hops)], PROXIES) == peer


@given(client=_UNTRUSTED, spoofed=_HOPS)
def test_what_a_client_prepends_cannot_move_its_address(client: str, spoofed: list[str]) -> None:
    header = ", ".join([*spoofed, client])
    assert client_address("127.0.0.2", [header], PROXIES) == client
