"""The replay record of client assertions, on SQLite and PostgreSQL: a jti is accepted once
per client, also when the same one races in on several connections at once."""

from __future__ import annotations

import asyncio

import pytest

from authgate.store import Store
from authgate.store.records import ClientRecord


@pytest.fixture
async def clients(store: Store) -> Store:
    async with store.transaction() as tx:
        await tx.clients.add(ClientRecord("machine", "Machine", secret_ciphertext=None))
        await tx.clients.add(ClientRecord("other", "Other", secret_ciphertext=None))
    return store


async def remember(store: Store, client_id: str, jti: str, expires_at: float = 2000.0) -> bool:
    async with store.transaction() as tx:
        return await tx.clients.remember_assertion(client_id, jti, expires_at, now=1000.0)


async def test_a_jti_is_accepted_once(clients: Store) -> None:
    assert await remember(clients, "machine", "j1") is True
    assert await remember(clients, "machine", "j1") is False


async def test_the_same_jti_of_another_client_is_its_own(clients: Store) -> None:
    assert await remember(clients, "machine", "j1") is True
    assert await remember(clients, "other", "j1") is True


async def test_a_jti_racing_in_on_many_connections_is_accepted_once(clients: Store) -> None:
    results = await asyncio.gather(*(remember(clients, "machine", "race") for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_expired_entries_are_purged_and_only_they(clients: Store) -> None:
    await remember(clients, "machine", "old", expires_at=500.0)
    await remember(clients, "machine", "live", expires_at=5000.0)
    assert await remember(clients, "machine", "new") is True
    assert await remember(clients, "machine", "old", expires_at=5000.0) is True
    assert await remember(clients, "machine", "live") is False


async def test_deleting_a_client_forgets_its_assertions(clients: Store) -> None:
    await remember(clients, "machine", "j1")
    async with clients.transaction() as tx:
        await tx.clients.delete("machine")
        await tx.clients.add(ClientRecord("machine", "Machine", secret_ciphertext=None))
    assert await remember(clients, "machine", "j1") is True
