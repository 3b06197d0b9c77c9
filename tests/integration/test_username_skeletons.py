"""Look-alike usernames in storage: one unique skeleton per name, race-safe, and the
migration that gives existing accounts theirs (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import importlib
import uuid

import pytest
from sqlalchemy import text

from authgate.errors import AlreadyExists
from authgate.identity.names import username_skeleton
from authgate.store import Store
from authgate.store.migrate import downgrade, is_current, upgrade
from authgate.store.records import UserRecord

CYRILLIC_O = "\u043e"


def user(username: str, created_at: float = 1000.0) -> UserRecord:
    return UserRecord(
        sub=str(uuid.uuid4()),
        username=username,
        email=None,
        password_hash=None,
        created_at=created_at,
        updated_at=created_at,
        username_skeleton=username_skeleton(username),
    )


async def test_a_lookalike_of_a_stored_username_is_refused(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.users.add(user("support"))

    with pytest.raises(AlreadyExists):
        async with store.transaction() as tx:
            await tx.users.add(user(f"supp{CYRILLIC_O}rt"))


async def test_the_holder_of_a_skeleton_is_found_by_one_lookup(store: Store) -> None:
    original = user("paypal")
    async with store.transaction() as tx:
        await tx.users.add(original)

    async with store.read() as tx:
        found = await tx.users.get_by_skeleton(username_skeleton("paypa1"))

    assert found is not None and found.sub == original.sub


async def test_two_replicas_adding_lookalikes_at_once_store_only_one(
    store: Store, db_url: str
) -> None:
    other = Store(db_url)

    async def add(on: Store, name: str) -> bool:
        try:
            async with on.transaction() as tx:
                await tx.users.add(user(name))
        except AlreadyExists:
            return False
        return True

    try:
        results = await asyncio.gather(add(store, "hello"), add(other, "he11o"))
    finally:
        await other.close()

    assert sorted(results) == [False, True]


def test_the_migration_computes_the_same_skeleton_as_the_domain() -> None:
    migration = importlib.import_module("authgate.store.migrations.versions.0004_identity_limits")
    for name in ("support", f"supp{CYRILLIC_O}rt", "paypa1", "jörg", "ops-0x", "a@b.example"):
        assert migration.skeleton(name) == username_skeleton(name)


async def test_upgrading_gives_existing_users_a_skeleton_the_oldest_lookalike_keeps_it(
    store: Store,
) -> None:
    await downgrade(store, "0003")
    try:
        async with store.engine.begin() as conn:
            for sub, name, created in (
                ("s-old", "paypal", 1.0),
                ("s-new", "paypa1", 2.0),
                ("s-other", "someone", 3.0),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO users (sub, username, email_verified, status, enabled,"
                        " attributes, tokens_valid_after, created_at, updated_at) VALUES"
                        " (:sub, :name, false, 'confirmed', true, '{}', 0, :at, :at)"
                    ),
                    {"sub": sub, "name": name, "at": created},
                )
    finally:
        await upgrade(store)

    assert await is_current(store)
    async with store.read() as tx:
        old, new, other = [await tx.users.get(s) for s in ("s-old", "s-new", "s-other")]
    assert old is not None and old.username_skeleton == "paypal"
    assert new is not None and new.username_skeleton is None
    assert other is not None and other.username_skeleton == "someone"
