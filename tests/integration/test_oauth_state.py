"""The token side's state on both databases: authorization codes and the jti deny list.

These run the domain services on a real store (no HTTP) where HTTP cannot reach the case:
two redemptions of one code at the same instant, and two processes' deny lists.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from authgate.store import Store
from authgate.store.records import UserRecord
from authgate.tokens import revocation
from authgate.tokens.authorization import (
    AuthorizationCodes,
    CodeGrant,
    CodeReplayed,
    IssuedFromCode,
    hash_code,
)
from authgate.tokens.errors import InvalidGrant
from authgate.tokens.pkce import challenge_of
from authgate.tokens.revocation import DenyList

VERIFIER = "v" * 43
REDIRECT = "https://app.example/cb"


async def new_user(store: Store) -> str:
    sub = str(uuid.uuid4())
    async with store.transaction() as tx:
        await tx.users.add(UserRecord(sub=sub, username=sub, email=None, password_hash=None))
    return sub


async def issue_code(codes: AuthorizationCodes, sub: str) -> str:
    return await codes.issue(
        client_id="c1",
        sub=sub,
        redirect_uri=REDIRECT,
        scope="openid offline_access",
        nonce="n",
        code_challenge=challenge_of(VERIFIER),
        auth_time=1.0,
    )


async def redeem(codes: AuthorizationCodes, code: str, jti: str) -> CodeGrant:
    async def issue(tx: object, grant: CodeGrant) -> tuple[IssuedFromCode, CodeGrant]:
        await asyncio.sleep(0.05)  # widen the window a concurrent redemption could slip into
        return IssuedFromCode(None, jti, 9e9), grant

    return await codes.redeem(
        code=code,
        client_id="c1",
        redirect_uri=REDIRECT,
        code_verifier=VERIFIER,
        pkce_required=True,
        issue=issue,
    )


async def test_codes_are_stored_only_as_their_hash(store: Store) -> None:
    codes = AuthorizationCodes(store, ttl=60)
    code = await issue_code(codes, await new_user(store))
    async with store.read() as tx:
        assert await tx.oauth.get_code(code) is None
        assert await tx.oauth.get_code(hash_code(code)) is not None


async def test_code_lifetime_is_capped_at_sixty_seconds(store: Store) -> None:
    codes = AuthorizationCodes(store, ttl=3600, clock=lambda: 1000.0)
    code = await issue_code(codes, await new_user(store))
    async with store.read() as tx:
        record = await tx.oauth.get_code(hash_code(code))
    assert record is not None
    assert record.expires_at == 1060.0


async def test_concurrent_redemptions_let_exactly_one_through(store: Store) -> None:
    codes = AuthorizationCodes(store, ttl=60)
    code = await issue_code(codes, await new_user(store))
    results = await asyncio.gather(
        redeem(codes, code, "jti-a"), redeem(codes, code, "jti-b"), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, CodeGrant)]
    losers = [r for r in results if isinstance(r, CodeReplayed)]
    assert len(winners) == 1
    assert len(losers) == 1


async def test_the_losing_redemption_revokes_what_the_winner_issued(store: Store) -> None:
    codes = AuthorizationCodes(store, ttl=60)
    code = await issue_code(codes, await new_user(store))
    results = await asyncio.gather(
        redeem(codes, code, "jti-a"), redeem(codes, code, "jti-b"), return_exceptions=True
    )
    (replayed,) = [r for r in results if isinstance(r, CodeReplayed)]
    assert replayed.revoked_jti in {"jti-a", "jti-b"}
    async with store.read() as tx:
        assert await tx.oauth.is_revoked(str(replayed.revoked_jti))


async def test_unknown_code_is_invalid_grant(store: Store) -> None:
    codes = AuthorizationCodes(store, ttl=60)
    with pytest.raises(InvalidGrant):
        await redeem(codes, "no-such-code", "jti")


async def test_a_revocation_reaches_another_process_at_its_next_sync(store: Store) -> None:
    here, there = DenyList(store, 2.0), DenyList(store, 2.0)
    await there.sync()
    async with store.transaction() as tx:
        await here.revoke(tx, "jti-1", 9e9)
    here.remember("jti-1", 9e9)
    assert here.is_denied("jti-1")
    assert not there.is_denied("jti-1")
    await there.sync()
    assert there.is_denied("jti-1")


async def test_without_its_loop_a_deny_list_syncs_on_check(store: Store) -> None:
    writer, reader = DenyList(store, 2.0), DenyList(store, 2.0)
    async with store.transaction() as tx:
        await writer.revoke(tx, "jti-2", 9e9)
    assert await reader.check("jti-2")
    assert not await reader.check("jti-3")


async def test_expired_revocations_are_forgotten(store: Store) -> None:
    deny = DenyList(store, 2.0, clock=lambda: 10_000.0)
    async with store.transaction() as tx:
        await deny.revoke(tx, "old", 100.0)
        await deny.revoke(tx, "live", 20_000.0)
    await deny.sync()
    assert deny.is_denied("live")
    assert not deny.is_denied("old")


async def test_a_backlog_of_expired_revocations_is_purged_in_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(revocation, "PURGE_BATCH", 4)
    deny = DenyList(store, 2.0, clock=lambda: 10_000.0)
    async with store.transaction() as tx:
        await tx.oauth.revoke_jtis([(f"old-{i}", 100.0) for i in range(11)], at=50.0)
        await deny.revoke(tx, "live", 20_000.0)

    await deny._purge()

    async with store.read() as tx:
        assert [jti for jti, _, _ in await tx.oauth.revoked_since(0.0, 0.0)] == ["live"]
