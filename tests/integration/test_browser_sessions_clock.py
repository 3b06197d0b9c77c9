"""Browser sessions over a real store with a hand-moved clock: when a use is noted, and when
a session counts as recently authenticated. Both backends."""

from __future__ import annotations

from authgate.audit import Caller
from authgate.identity.sessions import TOUCH_EVERY, BrowserSessions
from authgate.store import Store
from tests.clock import Clock
from tests.integration.test_store import add_users, make_user

REAUTH_AFTER = 300.0
HERE = Caller(ip="192.0.2.1", user_agent="First/1")
THERE = Caller(ip="198.51.100.7", user_agent="Second/2")


async def started(store: Store, clock: Clock) -> tuple[BrowserSessions, str]:
    user = make_user("ann", status="confirmed")
    await add_users(store, user)
    sessions = BrowserSessions(store, ttl=86400.0, clock=clock)
    signed_in = await sessions.start(user, HERE)
    return sessions, signed_in.session_id


async def test_a_use_within_a_minute_of_the_last_is_not_written(store: Store) -> None:
    clock = Clock()
    sessions, session_id = await started(store, clock)
    clock.advance(TOUCH_EVERY - 1)
    signed_in = await sessions.current(session_id, THERE)
    assert signed_in is not None
    (view,) = await sessions.of_user(signed_in.user)
    assert (view.last_used_at, view.ip, view.user_agent) == (1000.0, "192.0.2.1", "First/1")


async def test_a_use_a_minute_after_the_last_is_noted_with_its_address(store: Store) -> None:
    clock = Clock()
    sessions, session_id = await started(store, clock)
    clock.advance(TOUCH_EVERY)
    signed_in = await sessions.current(session_id, THERE)
    assert signed_in is not None
    (view,) = await sessions.of_user(signed_in.user, session_id)
    assert (view.last_used_at, view.ip, view.user_agent) == (1060.0, "198.51.100.7", "Second/2")
    assert view.current


async def test_a_fresh_sign_in_counts_as_recent_until_reauth_after(store: Store) -> None:
    clock = Clock()
    sessions, session_id = await started(store, clock)
    clock.advance(REAUTH_AFTER - 1)
    signed_in = await sessions.current(session_id)
    assert signed_in is not None and sessions.proved_within(signed_in, REAUTH_AFTER)
    clock.advance(1)
    signed_in = await sessions.current(session_id)
    assert signed_in is not None and not sessions.proved_within(signed_in, REAUTH_AFTER)


async def test_re_authenticating_makes_an_old_session_recent_again(store: Store) -> None:
    clock = Clock()
    sessions, session_id = await started(store, clock)
    clock.advance(REAUTH_AFTER * 10)
    stale = await sessions.current(session_id)
    assert stale is not None
    await sessions.reauthenticated(stale, HERE)
    clock.advance(REAUTH_AFTER - 1)
    again = await sessions.current(session_id)
    assert again is not None and sessions.proved_within(again, REAUTH_AFTER)
    assert again.auth_time == 1000.0  # the sign-in time that tokens report does not move
