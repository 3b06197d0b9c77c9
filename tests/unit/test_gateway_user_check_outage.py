"""The gate's user check while the database is away: the last view of a user stands, an
unseen user's valid token is admitted on its own, a user known to have changed since the
token was issued fails closed, and the database is not asked on every request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from authgate.errors import StorageUnavailable
from authgate.gateway.authenticate import USER_CHECK_TTL, UserChanges, _UserCheck
from authgate.store.records import UserRecord

NOW = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Users:
    """A user directory whose database can be taken away; counts the look-ups it gets."""

    def __init__(self) -> None:
        self.records: dict[str, UserRecord] = {}
        self.away = False
        self.asked = 0

    async def get_user(self, sub: str) -> UserRecord:
        self.asked += 1
        if self.away:
            raise StorageUnavailable()
        return self.records[sub]


def claims(sub: str, iat: float = NOW - 10) -> dict[str, Any]:
    return {"sub": sub, "username": sub, "iat": iat}


def person(sub: str, enabled: bool = True) -> UserRecord:
    return UserRecord(sub=sub, username=sub, email=None, password_hash=None, enabled=enabled)


def setup(enabled: bool = True) -> tuple[_UserCheck, Users, Clock, UserChanges]:
    users, clock, changes = Users(), Clock(), UserChanges()
    users.records["ada"] = person("ada", enabled)
    return _UserCheck(users, clock, changes), users, clock, changes


def test_the_last_view_of_a_user_stands_past_its_ttl() -> None:
    check, users, clock, _ = setup(enabled=False)
    assert not asyncio.run(check.allows(claims("ada")))
    users.away = True
    clock.now += USER_CHECK_TTL * 3
    assert not asyncio.run(check.allows(claims("ada")))


def test_a_user_not_seen_yet_is_admitted_on_the_token_alone() -> None:
    check, users, _, _ = setup()
    users.away = True
    assert asyncio.run(check.allows(claims("grace")))


def test_a_user_changed_after_the_token_was_issued_fails_closed() -> None:
    check, users, clock, changes = setup()
    assert asyncio.run(check.allows(claims("ada")))
    users.away = True
    changes.changed("ada", clock.now + 1)
    clock.now += 2
    with pytest.raises(StorageUnavailable):
        asyncio.run(check.allows(claims("ada")))


def test_after_one_failed_look_up_the_database_is_left_alone_for_a_while() -> None:
    check, users, clock, _ = setup()
    users.away = True
    for sub in ("grace", "alan", "barbara"):
        asyncio.run(check.allows(claims(sub)))
    assert users.asked == 1
    clock.now += USER_CHECK_TTL + 1
    users.away = False
    users.records["grace"] = UserRecord(
        sub="grace", username="grace", email=None, password_hash=None
    )
    users.records["grace"].enabled = False
    assert not asyncio.run(check.allows(claims("grace")))
