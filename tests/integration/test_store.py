"""The store's repositories against real databases: every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from sqlalchemy import Table, func, select

from authgate.errors import AlreadyExists
from authgate.store import Store
from authgate.store.migrate import is_current, upgrade
from authgate.store.records import (
    AuditRecord,
    ClientRecord,
    CodeRecord,
    GroupRecord,
    IssuedAccessRecord,
    KeyRecord,
    RefreshFamilyRecord,
    RefreshTokenRecord,
    UserRecord,
)
from authgate.store.tables import (
    group_members,
    issued_access_tokens,
    one_time_codes,
    refresh_families,
    revoked_tokens,
)


def make_user(username: str, **fields: Any) -> UserRecord:
    fields.setdefault("email", f"{username}@example.com")
    fields.setdefault("password_hash", "$argon2id$hash")
    return UserRecord(sub=str(uuid.uuid4()), username=username, **fields)


def make_code(sub: str, purpose: str = "signup", **fields: Any) -> CodeRecord:
    fields.setdefault("code_hash", "code-hash")
    fields.setdefault("expires_at", 2000.0)
    fields.setdefault("attempts_left", 3)
    return CodeRecord(sub=sub, purpose=purpose, **fields)


def make_family(family_id: str, sub: str) -> RefreshFamilyRecord:
    return RefreshFamilyRecord(
        family_id=family_id,
        sub=sub,
        client_id="web",
        scope="openid profile",
        auth_time=1000.0,
        created_at=1000.0,
    )


def make_token(token_hash: str, family_id: str, expires_at: float = 5000.0) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        token_hash=token_hash, family_id=family_id, issued_at=1000.0, expires_at=expires_at
    )


def make_key(kid: str, created_at: float, **fields: Any) -> KeyRecord:
    return KeyRecord(
        kid=kid,
        alg="ES256",
        private_key_ciphertext=f"sealed-{kid}".encode(),
        created_at=created_at,
        **fields,
    )


async def add_users(store: Store, *users: UserRecord) -> None:
    async with store.transaction() as tx:
        for user in users:
            await tx.users.add(user)


async def listed_usernames(store: Store, **filters: Any) -> list[str]:
    async with store.transaction() as tx:
        page = await tx.users.list(**filters)
    return [user.username for user in page.items]


async def read_token(
    store: Store, token_hash: str
) -> tuple[RefreshTokenRecord, RefreshFamilyRecord]:
    async with store.transaction() as tx:
        found = await tx.refresh.get(token_hash)
    assert found is not None
    return found


async def count_rows(store: Store, table: Table) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.fixture
async def alice(store: Store) -> UserRecord:
    user = make_user("alice")
    await add_users(store, user)
    return user


class TestMigrations:
    async def test_migrated_database_is_at_newest_revision(self, store: Store) -> None:
        assert await is_current(store)

    async def test_upgrading_again_keeps_schema_current_and_data_intact(
        self, store: Store, alice: UserRecord
    ) -> None:
        await upgrade(store)

        assert await is_current(store)
        async with store.transaction() as tx:
            assert await tx.users.get(alice.sub) == alice


class TestUsers:
    async def test_added_user_reads_back_by_sub_with_every_field(self, store: Store) -> None:
        user = make_user(
            "alice",
            status="confirmed",
            enabled=False,
            email_verified=True,
            attributes={"locale": "fr", "tags": ["a", "b"], "nested": {"n": 1}},
            pending_email="new@example.com",
            tokens_valid_after=1234.5,
            created_at=1000.0,
            updated_at=1100.0,
        )
        await add_users(store, user)

        async with store.transaction() as tx:
            assert await tx.users.get(user.sub) == user

    async def test_added_user_reads_back_by_username(self, store: Store, alice: UserRecord) -> None:
        async with store.transaction() as tx:
            assert await tx.users.get_by_username("alice") == alice

    async def test_unknown_user_reads_as_none(self, store: Store) -> None:
        async with store.transaction() as tx:
            assert await tx.users.get(str(uuid.uuid4())) is None
            assert await tx.users.get_by_username("nobody") is None

    async def test_update_changes_every_field_but_created_at(
        self, store: Store, alice: UserRecord
    ) -> None:
        changed = dataclasses.replace(
            alice,
            username="alice2",
            email="alice2@example.com",
            password_hash="$argon2id$other",
            status="force_change_password",
            enabled=False,
            email_verified=True,
            attributes={"locale": "de"},
            pending_email="pending@example.com",
            tokens_valid_after=42.0,
            created_at=9999.0,
            updated_at=2000.0,
        )
        async with store.transaction() as tx:
            await tx.users.update(changed)

        async with store.transaction() as tx:
            stored = await tx.users.get(alice.sub)
        assert stored == dataclasses.replace(changed, created_at=alice.created_at)

    async def test_delete_removes_user(self, store: Store, alice: UserRecord) -> None:
        async with store.transaction() as tx:
            await tx.users.delete(alice.sub)

        async with store.transaction() as tx:
            assert await tx.users.get(alice.sub) is None
            assert await tx.users.get_by_username("alice") is None

    async def test_count_counts_users(self, store: Store) -> None:
        await add_users(store, make_user("alice"), make_user("bob"))

        async with store.transaction() as tx:
            assert await tx.users.count() == 2

    async def test_deleting_user_removes_their_codes_and_refresh_families(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.codes.put(make_code(alice.sub))
            await tx.refresh.add_family(make_family("family", alice.sub))

        async with store.transaction() as tx:
            await tx.users.delete(alice.sub)

        assert await count_rows(store, one_time_codes) == 0
        assert await count_rows(store, refresh_families) == 0


class TestTransactions:
    async def test_duplicate_username_raises_already_exists(
        self, store: Store, alice: UserRecord
    ) -> None:
        with pytest.raises(AlreadyExists):
            await add_users(store, make_user("alice"))

    async def test_transaction_still_commits_other_work_after_duplicate_username(
        self, store: Store, alice: UserRecord
    ) -> None:
        bob = make_user("bob")
        async with store.transaction() as tx:
            with pytest.raises(AlreadyExists):
                await tx.users.add(make_user("alice"))
            await tx.users.add(bob)

        async with store.transaction() as tx:
            assert await tx.users.get(bob.sub) == bob
            assert await tx.users.count() == 2

    async def test_failing_transaction_writes_nothing(self, store: Store) -> None:
        user = make_user("alice")
        with pytest.raises(RuntimeError, match="boom"):
            async with store.transaction() as tx:
                await tx.users.add(user)
                await tx.codes.put(make_code(user.sub))
                raise RuntimeError("boom")

        async with store.transaction() as tx:
            assert await tx.users.get(user.sub) is None
            assert await tx.codes.get(user.sub, "signup") is None


class TestUserList:
    async def test_lists_users_ordered_by_username(self, store: Store) -> None:
        await add_users(store, make_user("carol"), make_user("alice"), make_user("bob"))

        assert await listed_usernames(store) == ["alice", "bob", "carol"]

    async def test_filters_by_username_prefix(self, store: Store) -> None:
        await add_users(store, make_user("alice"), make_user("alfred"), make_user("bob"))

        assert await listed_usernames(store, username_prefix="al") == ["alfred", "alice"]

    async def test_username_prefix_matches_wildcards_literally(self, store: Store) -> None:
        await add_users(store, make_user("a_b"), make_user("a%b"), make_user("axb"))

        assert await listed_usernames(store, username_prefix="a_") == ["a_b"]
        assert await listed_usernames(store, username_prefix="a%") == ["a%b"]

    async def test_filters_by_email_prefix(self, store: Store) -> None:
        await add_users(
            store,
            make_user("alice", email="team@example.com"),
            make_user("bob", email="team@example.org"),
            make_user("carol", email="carol@example.com"),
            make_user("dave", email=None),
        )

        assert await listed_usernames(store, email_prefix="team@") == ["alice", "bob"]

    async def test_email_prefix_matches_percent_literally(self, store: Store) -> None:
        await add_users(
            store,
            make_user("alice", email="100%off@example.com"),
            make_user("bob", email="100xoff@example.com"),
        )

        assert await listed_usernames(store, email_prefix="100%") == ["alice"]

    async def test_email_prefix_matches_underscore_literally(self, store: Store) -> None:
        await add_users(
            store,
            make_user("alice", email="first_last@example.com"),
            make_user("bob", email="firstxlast@example.com"),
        )

        assert await listed_usernames(store, email_prefix="first_") == ["alice"]

    async def test_filters_by_status(self, store: Store) -> None:
        await add_users(
            store,
            make_user("alice", status="confirmed"),
            make_user("bob", status="unconfirmed"),
            make_user("carol", status="confirmed"),
        )

        assert await listed_usernames(store, status="confirmed") == ["alice", "carol"]

    async def test_filters_by_enabled(self, store: Store) -> None:
        await add_users(store, make_user("alice"), make_user("bob", enabled=False))

        assert await listed_usernames(store, enabled=True) == ["alice"]
        assert await listed_usernames(store, enabled=False) == ["bob"]

    async def test_filters_by_group(self, store: Store) -> None:
        alice, bob = make_user("alice"), make_user("bob")
        await add_users(store, alice, bob, make_user("carol"))
        async with store.transaction() as tx:
            await tx.groups.add(GroupRecord("admins"))
            await tx.groups.add_member("admins", alice.sub)
            await tx.groups.add_member("admins", bob.sub)

        assert await listed_usernames(store, group="admins") == ["alice", "bob"]

    async def test_listed_users_carry_their_groups(self, store: Store, alice: UserRecord) -> None:
        async with store.transaction() as tx:
            await tx.groups.add(GroupRecord("admins"))
            await tx.groups.add_member("admins", alice.sub)
            page = await tx.users.list()

        assert page.items[0].groups == ["admins"]

    async def test_cursor_pages_through_every_user_once_in_order(self, store: Store) -> None:
        names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]
        await add_users(store, *(make_user(name) for name in reversed(names)))

        pages: list[list[str]] = []
        cursor: str | None = None
        async with store.transaction() as tx:
            while True:
                page = await tx.users.list(cursor=cursor, limit=3)
                pages.append([user.username for user in page.items])
                if page.next is None:
                    break
                cursor = page.next

        assert pages == [names[0:3], names[3:6], names[6:]]


class TestGroups:
    async def test_added_group_reads_back(self, store: Store) -> None:
        group = GroupRecord("admins", "Administrators", created_at=1000.0)
        async with store.transaction() as tx:
            await tx.groups.add(group)

        async with store.transaction() as tx:
            assert await tx.groups.get("admins") == group

    async def test_duplicate_group_raises_already_exists(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.groups.add(GroupRecord("admins"))

        with pytest.raises(AlreadyExists):
            async with store.transaction() as tx:
                await tx.groups.add(GroupRecord("admins"))

    async def test_cursor_pages_through_groups_by_name(self, store: Store) -> None:
        async with store.transaction() as tx:
            for name in ["ops", "admins", "devs"]:
                await tx.groups.add(GroupRecord(name))

        async with store.transaction() as tx:
            first = await tx.groups.list(limit=2)
            second = await tx.groups.list(cursor=first.next, limit=2)

        assert [group.name for group in first.items] == ["admins", "devs"]
        assert [group.name for group in second.items] == ["ops"]
        assert second.next is None

    async def test_delete_removes_group_and_reports_whether_it_existed(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.groups.add(GroupRecord("admins"))

        async with store.transaction() as tx:
            assert await tx.groups.delete("admins") is True
            assert await tx.groups.delete("admins") is False
            assert await tx.groups.get("admins") is None

    async def test_deleting_group_removes_its_memberships(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.groups.add(GroupRecord("admins"))
            await tx.groups.add_member("admins", alice.sub)

        async with store.transaction() as tx:
            await tx.groups.delete("admins")

        async with store.transaction() as tx:
            user = await tx.users.get(alice.sub)
        assert user is not None and user.groups == []

    async def test_members_see_their_groups_sorted_by_name(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            for name in ["ops", "admins"]:
                await tx.groups.add(GroupRecord(name))
                await tx.groups.add_member(name, alice.sub)

        async with store.transaction() as tx:
            user = await tx.users.get(alice.sub)
        assert user is not None and user.groups == ["admins", "ops"]

    async def test_adding_a_member_twice_keeps_one_membership(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.groups.add(GroupRecord("admins"))
            await tx.groups.add_member("admins", alice.sub)
            await tx.groups.add_member("admins", alice.sub)

        assert await count_rows(store, group_members) == 1

    async def test_removed_member_leaves_group(self, store: Store, alice: UserRecord) -> None:
        async with store.transaction() as tx:
            await tx.groups.add(GroupRecord("admins"))
            await tx.groups.add_member("admins", alice.sub)

        async with store.transaction() as tx:
            assert await tx.groups.remove_member("admins", alice.sub) is True
            assert await tx.groups.remove_member("admins", alice.sub) is False
            user = await tx.users.get(alice.sub)
        assert user is not None and user.groups == []

    async def test_deleting_a_user_removes_their_memberships(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.groups.add(GroupRecord("admins"))
            await tx.groups.add_member("admins", alice.sub)

        async with store.transaction() as tx:
            await tx.users.delete(alice.sub)

        assert await count_rows(store, group_members) == 0


class TestClients:
    async def test_added_client_reads_back_with_secret_bytes_and_metadata(
        self, store: Store
    ) -> None:
        client = ClientRecord(
            client_id="web",
            client_name="Web app",
            secret_ciphertext=bytes(range(256)),
            metadata={
                "redirect_uris": ["https://app.example/cb"],
                "confidential": True,
                "logo": None,
                "limits": {"ttl": 3600},
                "label": "Zürich ✓",
            },
            created_at=1000.0,
            updated_at=1000.0,
        )
        async with store.transaction() as tx:
            await tx.clients.add(client)

        async with store.transaction() as tx:
            assert await tx.clients.get("web") == client

    async def test_public_client_reads_back_without_secret(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.clients.add(ClientRecord("spa", "SPA", secret_ciphertext=None))

        async with store.transaction() as tx:
            client = await tx.clients.get("spa")
        assert client is not None and client.secret_ciphertext is None

    async def test_unknown_client_reads_as_none(self, store: Store) -> None:
        async with store.transaction() as tx:
            assert await tx.clients.get("nope") is None

    async def test_duplicate_client_id_raises_already_exists(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.clients.add(ClientRecord("web", "Web", None))

        with pytest.raises(AlreadyExists):
            async with store.transaction() as tx:
                await tx.clients.add(ClientRecord("web", "Other", None))

    async def test_update_changes_every_field_but_created_at(self, store: Store) -> None:
        original = ClientRecord("web", "Web", b"old", {"a": 1}, created_at=1000.0)
        changed = ClientRecord(
            client_id="web",
            client_name="Renamed",
            secret_ciphertext=b"new",
            metadata={"b": [2]},
            created_at=5000.0,
            updated_at=2000.0,
        )
        async with store.transaction() as tx:
            await tx.clients.add(original)
            await tx.clients.update(changed)

        async with store.transaction() as tx:
            assert await tx.clients.get("web") == dataclasses.replace(changed, created_at=1000.0)

    async def test_cursor_pages_through_clients_by_id(self, store: Store) -> None:
        async with store.transaction() as tx:
            for client_id in ["mobile", "api", "web"]:
                await tx.clients.add(ClientRecord(client_id, client_id, None))

        async with store.transaction() as tx:
            first = await tx.clients.list(limit=2)
            second = await tx.clients.list(cursor=first.next, limit=2)

        assert [client.client_id for client in first.items] == ["api", "mobile"]
        assert [client.client_id for client in second.items] == ["web"]
        assert second.next is None

    async def test_delete_removes_client_and_reports_whether_it_existed(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.clients.add(ClientRecord("web", "Web", None))

        async with store.transaction() as tx:
            assert await tx.clients.delete("web") is True
            assert await tx.clients.delete("web") is False
            assert await tx.clients.get("web") is None


class TestKeys:
    async def test_all_lists_keys_oldest_first(self, store: Store) -> None:
        newer, older = make_key("k2", 2000.0), make_key("k1", 1000.0)
        async with store.transaction() as tx:
            await tx.keys.add(newer)
            await tx.keys.add(older)

        async with store.transaction() as tx:
            assert await tx.keys.all() == [older, newer]

    async def test_retire_records_retirement_and_verification_deadline(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.keys.add(make_key("k1", 1000.0))
            await tx.keys.retire("k1", retired_at=2000.0, verify_until=3000.0)

        async with store.transaction() as tx:
            (key,) = await tx.keys.all()
        assert (key.retired_at, key.verify_until) == (2000.0, 3000.0)

    async def test_retiring_a_retired_key_changes_nothing(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.keys.add(make_key("k1", 1000.0))
            await tx.keys.retire("k1", retired_at=2000.0, verify_until=3000.0)
            await tx.keys.retire("k1", retired_at=2500.0, verify_until=3500.0)

        async with store.transaction() as tx:
            (key,) = await tx.keys.all()
        assert (key.retired_at, key.verify_until) == (2000.0, 3000.0)

    async def test_purge_expired_deletes_only_keys_past_verification(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.keys.add(make_key("active", 3000.0))
            await tx.keys.add(make_key("verifying", 2000.0, retired_at=3000.0, verify_until=6000.0))
            await tx.keys.add(make_key("expired", 1000.0, retired_at=2000.0, verify_until=4000.0))
            await tx.keys.purge_expired(now=5000.0)

        async with store.transaction() as tx:
            assert [key.kid for key in await tx.keys.all()] == ["verifying", "active"]


class TestCodes:
    async def test_put_code_reads_back(self, store: Store, alice: UserRecord) -> None:
        code = make_code(alice.sub, "reset", code_hash="h1", expires_at=1500.0, attempts_left=5)
        async with store.transaction() as tx:
            await tx.codes.put(code)

        async with store.transaction() as tx:
            assert await tx.codes.get(alice.sub, "reset") == code

    async def test_put_replaces_earlier_code_for_same_purpose(
        self, store: Store, alice: UserRecord
    ) -> None:
        replacement = make_code(alice.sub, code_hash="second", attempts_left=5)
        async with store.transaction() as tx:
            await tx.codes.put(make_code(alice.sub, code_hash="first", attempts_left=1))
            await tx.codes.put(replacement)

        async with store.transaction() as tx:
            assert await tx.codes.get(alice.sub, "signup") == replacement
        assert await count_rows(store, one_time_codes) == 1

    async def test_codes_for_different_purposes_coexist(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.codes.put(make_code(alice.sub, "signup"))
            await tx.codes.put(make_code(alice.sub, "verify_email"))

        async with store.transaction() as tx:
            assert await tx.codes.get(alice.sub, "signup") is not None
            assert await tx.codes.get(alice.sub, "verify_email") is not None

    async def test_spend_attempt_counts_down_tries_left(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.codes.put(make_code(alice.sub, attempts_left=3))

        async with store.transaction() as tx:
            assert await tx.codes.spend_attempt(alice.sub, "signup") == 2
            code = await tx.codes.get(alice.sub, "signup")
        assert code is not None and code.attempts_left == 2

    async def test_spending_the_last_attempt_deletes_the_code(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.codes.put(make_code(alice.sub, attempts_left=2))

        async with store.transaction() as tx:
            assert await tx.codes.spend_attempt(alice.sub, "signup") == 1
            assert await tx.codes.spend_attempt(alice.sub, "signup") == 0
            assert await tx.codes.get(alice.sub, "signup") is None

    async def test_spend_attempt_without_a_code_leaves_zero_tries(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            assert await tx.codes.spend_attempt(alice.sub, "signup") == 0

    async def test_delete_removes_code_and_reports_whether_it_existed(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.codes.put(make_code(alice.sub))

        async with store.transaction() as tx:
            assert await tx.codes.delete(alice.sub, "signup") is True
            assert await tx.codes.delete(alice.sub, "signup") is False


class TestRefreshTokens:
    async def test_token_reads_back_with_its_family(self, store: Store, alice: UserRecord) -> None:
        family, token = make_family("family", alice.sub), make_token("hash", "family")
        async with store.transaction() as tx:
            await tx.refresh.add_family(family)
            await tx.refresh.add_token(token)

        async with store.transaction() as tx:
            assert await tx.refresh.get("hash") == (token, family)

    async def test_unknown_token_reads_as_none(self, store: Store) -> None:
        async with store.transaction() as tx:
            assert await tx.refresh.get("unknown") is None

    async def test_first_spend_marks_the_token_spent(self, store: Store, alice: UserRecord) -> None:
        async with store.transaction() as tx:
            await tx.refresh.add_family(make_family("family", alice.sub))
            await tx.refresh.add_token(make_token("hash", "family"))

        async with store.transaction() as tx:
            assert await tx.refresh.spend("hash", at=1500.0) is True

        token, _ = await read_token(store, "hash")
        assert token.spent_at == 1500.0

    async def test_second_spend_is_refused_and_keeps_the_first_time(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.refresh.add_family(make_family("family", alice.sub))
            await tx.refresh.add_token(make_token("hash", "family"))
            await tx.refresh.spend("hash", at=1500.0)

        async with store.transaction() as tx:
            assert await tx.refresh.spend("hash", at=1600.0) is False

        token, _ = await read_token(store, "hash")
        assert token.spent_at == 1500.0

    async def test_revoke_family_records_the_first_revocation_time(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.refresh.add_family(make_family("family", alice.sub))
            await tx.refresh.add_token(make_token("hash", "family"))
            await tx.refresh.revoke_family("family", at=2000.0)
            await tx.refresh.revoke_family("family", at=3000.0)

        _, family = await read_token(store, "hash")
        assert family.revoked_at == 2000.0

    async def test_revoke_families_ends_the_named_families_and_no_other(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            for family_id in ["f1", "f2", "f3"]:
                await tx.refresh.add_family(make_family(family_id, alice.sub))
                await tx.refresh.add_token(make_token(f"hash-{family_id}", family_id))
            await tx.refresh.revoke_families(["f1", "f3"], at=2000.0)
            await tx.refresh.revoke_families([], at=2500.0)

        families = [(await read_token(store, f"hash-{fid}"))[1] for fid in ["f1", "f2", "f3"]]
        assert [family.revoked_at for family in families] == [2000.0, None, 2000.0]

    async def test_revoke_user_revokes_only_that_users_families(
        self, store: Store, alice: UserRecord
    ) -> None:
        bob = make_user("bob")
        await add_users(store, bob)
        async with store.transaction() as tx:
            for family_id, sub in [("a1", alice.sub), ("a2", alice.sub), ("b1", bob.sub)]:
                await tx.refresh.add_family(make_family(family_id, sub))
                await tx.refresh.add_token(make_token(f"hash-{family_id}", family_id))
            await tx.refresh.revoke_user(alice.sub, at=2000.0)

        families = [(await read_token(store, f"hash-{fid}"))[1] for fid in ["a1", "a2", "b1"]]
        assert [family.revoked_at for family in families] == [2000.0, 2000.0, None]

    async def test_purge_expired_deletes_only_expired_tokens(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            await tx.refresh.add_family(make_family("family", alice.sub))
            await tx.refresh.add_token(make_token("old", "family", expires_at=1500.0))
            await tx.refresh.add_token(make_token("new", "family", expires_at=2500.0))
            await tx.refresh.purge_expired(now=2000.0)

        async with store.transaction() as tx:
            assert await tx.refresh.get("old") is None
            assert await tx.refresh.get("new") is not None


class TestPurges:
    """Expired revocations and issued-token rows go in batches of a bound size, so a
    backlog never becomes one statement longer than `database.timeout`."""

    async def test_revocations_are_purged_at_most_a_batch_at_a_time(self, store: Store) -> None:
        async with store.transaction() as tx:
            await tx.oauth.revoke_jtis([(f"old-{i}", 100.0) for i in range(12)], at=50.0)
            await tx.oauth.revoke_jtis([("live", 5000.0)], at=50.0)

        gone = []
        for _ in range(4):
            async with store.transaction() as tx:
                gone.append(await tx.oauth.purge_revoked(1000.0, limit=5))

        assert gone == [5, 5, 2, 0]
        assert await count_rows(store, revoked_tokens) == 1
        async with store.read() as tx:
            assert await tx.oauth.is_revoked("live")

    async def test_issued_tokens_are_purged_at_most_a_batch_at_a_time(
        self, store: Store, alice: UserRecord
    ) -> None:
        async with store.transaction() as tx:
            for i in range(7):
                await tx.oauth.add_issued(
                    IssuedAccessRecord(f"old-{i}", alice.sub, "web", None, expires_at=100.0)
                )
            await tx.oauth.add_issued(
                IssuedAccessRecord("live", alice.sub, "web", None, expires_at=5000.0)
            )

        async with store.transaction() as tx:
            first = await tx.oauth.purge_issued(1000.0, limit=4)
        async with store.transaction() as tx:
            second = await tx.oauth.purge_issued(1000.0, limit=4)

        assert (first, second) == (4, 3)
        assert await count_rows(store, issued_access_tokens) == 1
        async with store.read() as tx:
            assert await tx.oauth.get_issued("live") is not None


class TestAudit:
    @pytest.fixture
    async def events(self, store: Store) -> list[AuditRecord]:
        """Five events, oldest first, as stored (with their ids)."""
        events = [
            AuditRecord("sign_in", 1000.0, sub="u1", client_id="web", ip="10.0.0.1"),
            AuditRecord("sign_out", 1100.0, sub="u1", user_agent="curl/8"),
            AuditRecord("sign_in", 1200.0, sub="u2", detail={"mfa": True, "steps": [1, 2]}),
            AuditRecord("password_changed", 1300.0, sub="u1"),
            AuditRecord("sign_in", 1400.0, sub="u1"),
        ]
        async with store.transaction() as tx:
            for event in events:
                await tx.audit.add(event)
            stored = await tx.audit.list()
        return list(reversed(stored.items))

    async def test_lists_events_newest_first_with_every_field(
        self, store: Store, events: list[AuditRecord]
    ) -> None:
        async with store.transaction() as tx:
            page = await tx.audit.list()

        assert [dataclasses.replace(event, id=None) for event in page.items] == [
            AuditRecord("sign_in", 1400.0, sub="u1"),
            AuditRecord("password_changed", 1300.0, sub="u1"),
            AuditRecord("sign_in", 1200.0, sub="u2", detail={"mfa": True, "steps": [1, 2]}),
            AuditRecord("sign_out", 1100.0, sub="u1", user_agent="curl/8"),
            AuditRecord("sign_in", 1000.0, sub="u1", client_id="web", ip="10.0.0.1"),
        ]
        assert page.next is None

    async def test_filters_by_sub(self, store: Store, events: list[AuditRecord]) -> None:
        async with store.transaction() as tx:
            page = await tx.audit.list(sub="u2")

        assert page.items == [events[2]]

    async def test_filters_by_event(self, store: Store, events: list[AuditRecord]) -> None:
        async with store.transaction() as tx:
            page = await tx.audit.list(event="sign_in")

        assert page.items == [events[4], events[2], events[0]]

    async def test_filters_by_since_inclusive(
        self, store: Store, events: list[AuditRecord]
    ) -> None:
        async with store.transaction() as tx:
            page = await tx.audit.list(since=1300.0)

        assert page.items == [events[4], events[3]]

    async def test_combined_filters_all_apply(
        self, store: Store, events: list[AuditRecord]
    ) -> None:
        async with store.transaction() as tx:
            page = await tx.audit.list(sub="u1", event="sign_in", since=1100.0)

        assert page.items == [events[4]]

    async def test_cursor_pages_through_events_newest_first(
        self, store: Store, events: list[AuditRecord]
    ) -> None:
        async with store.transaction() as tx:
            first = await tx.audit.list(limit=2)
            second = await tx.audit.list(cursor=first.next, limit=2)
            third = await tx.audit.list(cursor=second.next, limit=2)

        assert [first.items, second.items, third.items] == [
            [events[4], events[3]],
            [events[2], events[1]],
            [events[0]],
        ]
        assert third.next is None
