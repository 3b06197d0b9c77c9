"""SRP sign-in as the domain runs it, on SQLite and PostgreSQL, answered by pycognito's
AWSSRP (the client code of many Cognito users, written independently of ours)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from pycognito.aws_srp import AWSSRP
from sqlalchemy import select

from authgate.audit import Caller
from authgate.errors import InvalidCredentials, NotFound, SrpVerifierMissing, TooManyRequests
from authgate.identity.auth_sessions import AuthSessions
from authgate.identity.srp_signin import PasswordVerifierChallenge, SrpSignIn
from authgate.identity.srp_verifiers import SrpVerifiers
from authgate.identity.throttle import LockoutRule, LoginThrottle
from authgate.store import Store
from authgate.store.records import UserRecord
from authgate.store.tables import srp_verifiers
from authgate.tokens.keys import KeyEncryptor
from tests.clock import Clock

POOL_ID = "us-east-1_authgate"
CLIENT = "app-client"
CALLER = Caller(ip="127.0.0.1")
PASSWORD = "correct horse battery staple"


@pytest.fixture
def clock() -> Clock:
    return Clock(1_000_000.0)


@pytest.fixture
def signin(store: Store, clock: Clock) -> SrpSignIn:
    sealer = KeyEncryptor(os.urandom(32))
    return SrpSignIn(
        store,
        SrpVerifiers(sealer, POOL_ID, clock),
        AuthSessions(sealer, clock=clock),
        LoginThrottle(store, LockoutRule(), clock),
        decoy_key=os.urandom(32),
        clock=clock,
    )


async def add_user(
    store: Store, signin: SrpSignIn, name: str = "alice", *, verifier: bool = True
) -> UserRecord:
    user = UserRecord(
        sub=str(uuid.uuid4()),
        username=name,
        email=None,
        password_hash=f"$argon2id$stand-in-for-{name}",
        status="confirmed",
    )
    derived = signin.verifiers.derive(name, PASSWORD)
    async with store.transaction() as tx:
        await tx.users.add(user)
        if verifier:
            await signin.verifiers.save(tx, user, derived)
    return user


def client(name: str, password: str = PASSWORD) -> AWSSRP:
    return AWSSRP(name, password, POOL_ID, CLIENT, client=object())


async def challenge(signin: SrpSignIn, aws: AWSSRP) -> PasswordVerifierChallenge:
    params = aws.get_auth_params()
    return await signin.start(params["USERNAME"], params["SRP_A"], CLIENT, CALLER)


def answer(aws: AWSSRP, found: PasswordVerifierChallenge) -> dict[str, Any]:
    answers: dict[str, Any] = aws.process_challenge(found.parameters(), aws.get_auth_params())
    return answers


async def test_right_password_signs_in(store: Store, signin: SrpSignIn) -> None:
    user = await add_user(store, signin)
    aws = client("alice")
    found = await challenge(signin, aws)
    signed_in = await signin.finish(answer(aws, found), CLIENT, CALLER)
    assert signed_in.sub == user.sub


async def test_wrong_password_is_refused(store: Store, signin: SrpSignIn) -> None:
    await add_user(store, signin)
    aws = client("alice", "correct horse battery stapler")
    found = await challenge(signin, aws)
    with pytest.raises(InvalidCredentials) as caught:
        await signin.finish(answer(aws, found), CLIENT, CALLER)
    assert type(caught.value) is InvalidCredentials


async def test_secret_block_works_once(store: Store, signin: SrpSignIn) -> None:
    await add_user(store, signin)
    aws = client("alice")
    answers = answer(aws, await challenge(signin, aws))
    await signin.finish(answers, CLIENT, CALLER)
    with pytest.raises(InvalidCredentials):
        await signin.finish(answers, CLIENT, CALLER)


async def test_secret_block_of_another_client_is_refused(store: Store, signin: SrpSignIn) -> None:
    await add_user(store, signin)
    aws = client("alice")
    answers = answer(aws, await challenge(signin, aws))
    with pytest.raises(InvalidCredentials):
        await signin.finish(answers, "another-client", CALLER)


async def test_secret_block_expires_after_three_minutes(
    store: Store, signin: SrpSignIn, clock: Clock
) -> None:
    await add_user(store, signin)
    aws = client("alice")
    answers = answer(aws, await challenge(signin, aws))
    clock.advance(181)
    with pytest.raises(InvalidCredentials):
        await signin.finish(answers, CLIENT, CALLER)


async def test_unknown_user_gets_a_stable_stand_in_challenge(signin: SrpSignIn) -> None:
    first = await challenge(signin, client("nobody"))
    second = await challenge(signin, client("nobody"))
    assert first.salt == second.salt and len(first.salt) == 32
    assert first.srp_b != second.srp_b
    aws = client("nobody")
    with pytest.raises(InvalidCredentials):
        await signin.finish(answer(aws, await challenge(signin, aws)), CLIENT, CALLER)


async def test_real_and_stand_in_salts_look_alike(store: Store, signin: SrpSignIn) -> None:
    await add_user(store, signin)
    real = await challenge(signin, client("alice"))
    fake = await challenge(signin, client("nobody"))
    assert len(real.salt) == len(fake.salt) == 32
    assert real.salt[0] in "89abcdef" and fake.salt[0] in "89abcdef"


async def test_unknown_user_is_named_only_when_the_pool_reveals_it(signin: SrpSignIn) -> None:
    params = client("nobody").get_auth_params()
    with pytest.raises(NotFound):
        await signin.start("nobody", params["SRP_A"], CLIENT, CALLER, reveal_unknown=True)


async def test_user_without_verifier_fails_like_a_wrong_password(
    store: Store, signin: SrpSignIn
) -> None:
    await add_user(store, signin, verifier=False)
    aws = client("alice")
    with pytest.raises(InvalidCredentials) as caught:
        await signin.finish(answer(aws, await challenge(signin, aws)), CLIENT, CALLER)
    assert type(caught.value) is InvalidCredentials


async def test_missing_verifier_is_said_when_the_pool_reveals_users(
    store: Store, signin: SrpSignIn
) -> None:
    await add_user(store, signin, verifier=False)
    params = client("alice").get_auth_params()
    with pytest.raises(SrpVerifierMissing):
        await signin.start("alice", params["SRP_A"], CLIENT, CALLER, reveal_unknown=True)


async def test_a_new_password_hash_makes_the_verifier_stale(
    store: Store, signin: SrpSignIn
) -> None:
    user = await add_user(store, signin)
    async with store.transaction() as tx:
        user.password_hash = "$argon2id$another"
        await tx.users.update(user)
    aws = client("alice")
    with pytest.raises(InvalidCredentials):
        await signin.finish(answer(aws, await challenge(signin, aws)), CLIENT, CALLER)


async def test_failures_count_towards_the_lockout(store: Store, signin: SrpSignIn) -> None:
    await add_user(store, signin)
    for _ in range(5):
        aws = client("alice", "wrong password")
        with pytest.raises(InvalidCredentials):
            await signin.finish(answer(aws, await challenge(signin, aws)), CLIENT, CALLER)
    with pytest.raises(TooManyRequests):
        await challenge(signin, client("alice"))


async def test_zero_public_value_is_refused(signin: SrpSignIn) -> None:
    from authgate.errors import InvalidRequest
    from authgate.identity import srp

    with pytest.raises(InvalidRequest):
        await signin.start("alice", f"{srp.N:x}", CLIENT, CALLER)


async def test_verifier_is_not_stored_in_clear(store: Store, signin: SrpSignIn) -> None:
    user = await add_user(store, signin)
    async with store.read() as tx:
        found = await signin.verifiers.load(tx, user)
    assert found is not None
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(srp_verifiers))).one()
    assert found.verifier.to_bytes(384, "big") not in bytes(row.verifier_ciphertext)
    assert len(row.verifier_ciphertext) == 12 + 384 + 16
