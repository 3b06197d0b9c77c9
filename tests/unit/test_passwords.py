"""Tests for password hashing, legacy-hash verification and the password policy."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import threading
import time
import unicodedata
from collections.abc import AsyncIterator, Callable

import argon2
import bcrypt
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from authgate.errors import InvalidPassword
from authgate.identity.passwords import (
    MAX_PASSWORD_BYTES,
    MAX_PBKDF2_ITERATIONS,
    RULES,
    Argon2Params,
    PasswordHasher,
    PasswordPolicy,
    common_password_count,
    is_common_password,
    is_supported_hash,
    pbkdf2_sha256_hash,
)

FAST = Argon2Params(memory_kib=1024, time_cost=1)


@pytest.fixture
async def hasher() -> AsyncIterator[PasswordHasher]:
    h = PasswordHasher(FAST, max_concurrency=2)
    yield h
    await h.close()


def legacy_pbkdf2(password: str, salt: bytes = b"pepper-less salt") -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)
    return pbkdf2_sha256_hash(salt, digest, 100_000)


def ab64(raw: bytes) -> str:
    """passlib's adapted base64: the standard alphabet with "." for "+", and no padding."""
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def passlib_pbkdf2(password: str, salt: bytes, iterations: int = 29_000) -> str:
    """What passlib's `pbkdf2_sha256.hash` writes, built by hand from its documented format."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"$pbkdf2-sha256${iterations}${ab64(salt)}${ab64(digest)}"


def django_pbkdf2(password: str, salt: str, iterations: int = 260_000) -> str:
    """What Django's `PBKDF2PasswordHasher.encode` writes: the salt is hashed as its text."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


DIGEST_B64 = base64.b64encode(b"d" * 32).decode()
"""A well-formed standard-base64 32-byte digest, for hashes that must fail on other parts."""


def watch_argon2_hash(
    monkeypatch: pytest.MonkeyPatch, before: Callable[[], object] = lambda: None
) -> dict[str, int]:
    """Wrap argon2's blocking hash call and record how many run at the same time."""
    stats = {"in_flight": 0, "max_in_flight": 0, "calls": 0}
    lock = threading.Lock()
    original = argon2.PasswordHasher.hash

    def wrapped(self: argon2.PasswordHasher, password: str | bytes) -> str:
        with lock:
            stats["calls"] += 1
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            before()
            return original(self, password)
        finally:
            with lock:
                stats["in_flight"] -= 1

    monkeypatch.setattr(argon2.PasswordHasher, "hash", wrapped)
    return stats


# --- hashing and verification ---


async def test_roundtrip(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert await hasher.verify(stored, "correct horse battery staple")


async def test_wrong_password_is_false(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("correct horse battery staple")
    assert not await hasher.verify(stored, "correct horse battery stapler")


async def test_default_params_are_owasp() -> None:
    h = PasswordHasher()
    try:
        stored = await h.hash("s3cret-enough")
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert not h.needs_rehash(stored)
    finally:
        await h.close()


async def test_unknown_user_does_a_dummy_verify(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []
    original = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        calls.append(hash.encode() if isinstance(hash, str) else hash)
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    assert not await hasher.verify(None, "anything")
    assert len(calls) == 1
    assert calls[0].startswith(b"$argon2id$v=19$m=1024,t=1,p=1$")


async def test_bcrypt_hash_verifies(hasher: PasswordHasher) -> None:
    stored = bcrypt.hashpw(b"hunter2-legacy", bcrypt.gensalt(rounds=4)).decode()
    assert await hasher.verify(stored, "hunter2-legacy")
    assert not await hasher.verify(stored, "hunter3-legacy")
    for prefix in ("$2a$", "$2y$"):
        assert await hasher.verify(prefix + stored[4:], "hunter2-legacy")


async def test_bcrypt_checks_first_72_bytes_like_legacy_systems(hasher: PasswordHasher) -> None:
    password = "x" * 72
    stored = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    assert await hasher.verify(stored, password + "ignored-by-bcrypt")


async def test_pbkdf2_from_parts_is_passlib_format_and_verifies(hasher: PasswordHasher) -> None:
    salt = b"\xfb\xef\xbe\x00salt"
    digest = hashlib.pbkdf2_hmac("sha256", b"legacy pass", salt, 100_000)
    # The salt needs both passlib adaptations: a "+" to become "." and padding to drop.
    assert "+" in base64.b64encode(salt).decode() and base64.b64encode(salt).endswith(b"=")
    stored = pbkdf2_sha256_hash(salt, digest)
    assert stored == "$pbkdf2-sha256$100000$....AHNhbHQ$" + ab64(digest)
    assert stored == passlib_pbkdf2("legacy pass", salt, 100_000)
    assert await hasher.verify(stored, "legacy pass")
    assert not await hasher.verify(stored, "legacy pass!")


@given(st.binary(min_size=1, max_size=48), st.binary(min_size=16, max_size=64))
def test_pbkdf2_from_parts_writes_any_salt_in_adapted_base64(salt: bytes, digest: bytes) -> None:
    stored = pbkdf2_sha256_hash(salt, digest, 1)
    assert stored == f"$pbkdf2-sha256$1${ab64(salt)}${ab64(digest)}"
    assert is_supported_hash(stored)


async def test_passlib_hash_verifies(hasher: PasswordHasher) -> None:
    for salt in (b"\xfb\xef\xbe\x00salt", secrets.token_bytes(16), b"\x00" * 10):
        stored = passlib_pbkdf2("passlib pass", salt)
        assert is_supported_hash(stored)
        assert await hasher.verify(stored, "passlib pass")
        assert not await hasher.verify(stored, "passlib pass!")


async def test_passlib_documented_example_verifies(hasher: PasswordHasher) -> None:
    """The example hash of "password" from passlib's pbkdf2_sha256 documentation."""
    stored = (
        "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"
    )
    assert await hasher.verify(stored, "password")
    assert not await hasher.verify(stored, "Password")


@pytest.mark.parametrize("salt", ["Wq3dT8uXr2LmNc7Pz0KbYe", "a1B2c3D4e5F6"])
async def test_django_hash_verifies(hasher: PasswordHasher, salt: str) -> None:
    """Django 3.2+ writes 22-character salts, older Django 12-character ones."""
    stored = django_pbkdf2("django pass", salt)
    assert stored.startswith(f"pbkdf2_sha256$260000${salt}$")
    assert is_supported_hash(stored)
    assert await hasher.verify(stored, "django pass")
    assert not await hasher.verify(stored, "django pass!")


async def test_django_documented_example_verifies(hasher: PasswordHasher) -> None:
    """The hash of "lètmein" with salt "seasalt" from Django 1.6's hasher tests."""
    stored = "pbkdf2_sha256$12000$seasalt$Ybw8zsFxqja97tY/o6G+Fy1ksY4U/Hw3DRrGED6Up4s="
    assert stored == django_pbkdf2("lètmein", "seasalt", 12_000)
    assert await hasher.verify(stored, "lètmein")
    assert not await hasher.verify(stored, "lètmeinz")


async def test_django_salt_is_text_not_base64(hasher: PasswordHasher) -> None:
    """A salt that happens to be valid base64 is still hashed as its text, as Django does."""
    salt = "c2FsdHNhbHRzYWx0"
    decoded = base64.b64decode(salt)
    digest = hashlib.pbkdf2_hmac("sha256", b"pw", decoded, 100_000)
    old_layout = f"pbkdf2_sha256$100000${salt}${base64.b64encode(digest).decode()}"
    assert is_supported_hash(old_layout)
    assert not await hasher.verify(old_layout, "pw")
    assert await hasher.verify(django_pbkdf2("pw", salt, 100_000), "pw")


def test_pbkdf2_iterations_up_to_the_cap_are_supported() -> None:
    """One past the cap is in GARBAGE, which also proves verify refuses it unrun."""
    assert is_supported_hash(f"pbkdf2_sha256${MAX_PBKDF2_ITERATIONS}$salt${DIGEST_B64}")
    assert is_supported_hash(f"$pbkdf2-sha256${MAX_PBKDF2_ITERATIONS}$c2FsdA${ab64(b'd' * 32)}")


def test_pbkdf2_rejects_unsafe_parts() -> None:
    with pytest.raises(ValueError):
        pbkdf2_sha256_hash(b"salt", b"short")
    with pytest.raises(ValueError):
        pbkdf2_sha256_hash(b"salt", b"x" * 65)
    with pytest.raises(ValueError):
        pbkdf2_sha256_hash(b"", b"x" * 32)
    with pytest.raises(ValueError):
        pbkdf2_sha256_hash(b"salt", b"x" * 32, iterations=0)
    with pytest.raises(ValueError):
        pbkdf2_sha256_hash(b"salt", b"x" * 32, iterations=MAX_PBKDF2_ITERATIONS + 1)
    assert is_supported_hash(pbkdf2_sha256_hash(b"salt", b"x" * 32, MAX_PBKDF2_ITERATIONS))


async def test_needs_rehash(hasher: PasswordHasher) -> None:
    current = await hasher.hash("pw")
    assert not hasher.needs_rehash(current)
    assert hasher.needs_rehash(bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode())
    assert hasher.needs_rehash(legacy_pbkdf2("pw"))
    assert hasher.needs_rehash(django_pbkdf2("pw", "a1B2c3D4e5F6", 1000))
    assert hasher.needs_rehash(passlib_pbkdf2("pw", b"salt", 1000))
    other_cost = argon2.PasswordHasher(memory_cost=2048, time_cost=1, parallelism=1).hash("pw")
    assert hasher.needs_rehash(other_cost)
    argon2i = argon2.PasswordHasher(
        memory_cost=1024, time_cost=1, parallelism=1, type=argon2.Type.I
    ).hash("pw")
    assert hasher.needs_rehash(argon2i)
    assert hasher.needs_rehash("garbage")


async def test_other_argon2_variants_verify(hasher: PasswordHasher) -> None:
    for kind in (argon2.Type.I, argon2.Type.D, argon2.Type.ID):
        stored = argon2.PasswordHasher(memory_cost=512, time_cost=1, type=kind).hash("pw")
        assert await hasher.verify(stored, "pw")
        assert not await hasher.verify(stored, "pw2")


GARBAGE = [
    "",
    "garbage",
    "$argon2id$garbage",
    "$argon2id$v=19$m=1024,t=1,p=1$!!!!$!!!!",
    "$argon2x$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
    "$2b$04$short",
    "$2x$04$" + "a" * 53,
    "pbkdf2_sha256$100000$salt$",
    "pbkdf2_sha256$100000$$" + DIGEST_B64,
    "pbkdf2_sha256$100000$salt$c2hvcnQ=",
    "pbkdf2_sha256$100000$salt$" + base64.b64encode(b"d" * 65).decode(),
    "pbkdf2_sha256$100000$salt$" + DIGEST_B64.rstrip("="),
    "pbkdf2_sha256$100000$salt$" + DIGEST_B64[:-2] + "R=",
    "pbkdf2_sha256$100000$salt$" + DIGEST_B64.replace("Z", "Z.", 1),
    "pbkdf2_sha256$0$salt$" + DIGEST_B64,
    "pbkdf2_sha256$0100000$salt$" + DIGEST_B64,
    f"pbkdf2_sha256${MAX_PBKDF2_ITERATIONS + 1}$salt${DIGEST_B64}",
    "pbkdf2_sha256$100000$tab\tsalt$" + DIGEST_B64,
    "pbkdf2_sha256$100000$lone\ud800salt$" + DIGEST_B64,
    "pbkdf2_sha256$100000$salt$" + DIGEST_B64 + "$",
    "pbkdf2_sha1$100000$salt$" + DIGEST_B64,
    "$pbkdf2-sha256$100000$c2FsdA$",
    "$pbkdf2-sha256$100000$$" + ab64(b"d" * 32),
    "$pbkdf2-sha256$100000$c2FsdA$" + ab64(b"d" * 15),
    "$pbkdf2-sha256$100000$c2FsdA$" + ab64(b"d" * 65),
    "$pbkdf2-sha256$100000$c2FsdA$" + DIGEST_B64,
    "$pbkdf2-sha256$100000$c2F+dA$" + ab64(b"d" * 32),
    "$pbkdf2-sha256$100000$c2FsdABBB$" + ab64(b"d" * 32),
    "$pbkdf2-sha256$100000$c2FsdB$" + ab64(b"d" * 32),
    "$pbkdf2-sha256$0$c2FsdA$" + ab64(b"d" * 32),
    "$pbkdf2-sha256$0100000$c2FsdA$" + ab64(b"d" * 32),
    f"$pbkdf2-sha256${MAX_PBKDF2_ITERATIONS + 1}$c2FsdA${ab64(b'd' * 32)}",
    "$pbkdf2-sha256$i=100000$c2FsdA$" + ab64(b"d" * 32),
    "$pbkdf2-sha512$100000$c2FsdA$" + ab64(b"d" * 32),
    "pbkdf2-sha256$100000$c2FsdA$" + ab64(b"d" * 32),
    "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA\u00e9",
]


@pytest.mark.parametrize("stored", GARBAGE)
async def test_garbage_hash_is_false_and_costs_a_dummy_verify(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch, stored: str
) -> None:
    calls: list[object] = []
    original = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        calls.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    assert not await hasher.verify(stored, "password")
    assert len(calls) == 1


async def test_verify_of_odd_text_never_raises(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("\ud800 lone surrogate")
    assert await hasher.verify(stored, "\ud800 lone surrogate")
    assert not await hasher.verify(stored, "\udc00 lone surrogate")


async def test_oversized_password_is_false_after_dummy_work(hasher: PasswordHasher) -> None:
    at_limit = "a" * MAX_PASSWORD_BYTES
    stored = await hasher.hash(at_limit)
    assert await hasher.verify(stored, at_limit)
    assert not await hasher.verify(stored, at_limit + "a")
    with pytest.raises(ValueError):
        await hasher.hash(at_limit + "a")


def test_is_supported_hash() -> None:
    assert is_supported_hash(argon2.PasswordHasher(memory_cost=512, time_cost=1).hash("pw"))
    assert is_supported_hash(
        argon2.PasswordHasher(memory_cost=512, time_cost=1, type=argon2.Type.I).hash("pw")
    )
    assert is_supported_hash(bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode())
    assert is_supported_hash(legacy_pbkdf2("pw"))
    assert is_supported_hash(django_pbkdf2("pw", "Wq3dT8uXr2LmNc7Pz0KbYe", 1000))
    assert is_supported_hash(passlib_pbkdf2("pw", b"\xfb\xef\xbe\x00salt", 1000))
    assert is_supported_hash("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA")
    for stored in GARBAGE:
        assert not is_supported_hash(stored), stored


async def test_concurrency_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    h = PasswordHasher(FAST, max_concurrency=1)
    stats = watch_argon2_hash(monkeypatch, before=lambda: time.sleep(0.02))
    try:
        await asyncio.gather(*(h.hash(f"pw{i}") for i in range(4)))
    finally:
        await h.close()
    assert stats["calls"] == 4
    assert stats["max_in_flight"] == 1


async def test_concurrency_probe_sees_overlap_when_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Guards the probe above: with two slots both hashes must be in flight together."""
    h = PasswordHasher(FAST, max_concurrency=2)
    both_inside = threading.Barrier(2, timeout=5)
    stats = watch_argon2_hash(monkeypatch, before=both_inside.wait)
    try:
        await asyncio.gather(h.hash("a"), h.hash("b"))
    finally:
        await h.close()
    assert stats["max_in_flight"] == 2


async def test_event_loop_keeps_running_during_a_hash(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blocking hash waits until the loop has ticked, which only works off-loop."""
    loop_ticked = threading.Event()
    hashing_thread: list[threading.Thread] = []

    def wait_for_loop() -> None:
        hashing_thread.append(threading.current_thread())
        if not loop_ticked.wait(timeout=5):
            raise AssertionError("event loop was blocked during the hash")

    watch_argon2_hash(monkeypatch, before=wait_for_loop)
    done = False
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            if ticks >= 3:
                loop_ticked.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await hasher.hash("pw")
    done = True
    await task
    assert ticks >= 3
    assert hashing_thread[0] is not threading.main_thread()


# --- policy ---


@pytest.mark.parametrize(
    ("policy", "password", "rule"),
    [
        (PasswordPolicy(), "Ab1!", "min_length"),
        (PasswordPolicy(), "Ab1!" * 65, "max_length"),
        (PasswordPolicy(require_uppercase=True), "lower-only-9", "require_uppercase"),
        (PasswordPolicy(require_lowercase=True), "UPPER-ONLY-9", "require_lowercase"),
        (PasswordPolicy(require_digit=True), "no-digits-here", "require_digit"),
        (PasswordPolicy(require_symbol=True), "NoSymbols99 here", "require_symbol"),
        (PasswordPolicy(), "password1", "common_password"),
    ],
)
def test_each_rule_is_reported(policy: PasswordPolicy, password: str, rule: str) -> None:
    assert policy.broken_rules(password) == [rule]
    with pytest.raises(InvalidPassword) as caught:
        policy.check(password)
    assert caught.value.details["rules"] == [rule]
    assert policy.describe(rule) in caught.value.message


def test_rules_are_reported_in_fixed_order() -> None:
    strict = PasswordPolicy(
        require_uppercase=True, require_lowercase=True, require_digit=True, require_symbol=True
    )
    assert strict.broken_rules("") == [
        r for r in RULES if r not in ("max_length", "common_password")
    ]
    assert strict.broken_rules("Aa1!Aa1!") == []


def test_common_password_ignores_case() -> None:
    policy = PasswordPolicy()
    for variant in ("password1", "PassWord1", "PASSWORD1", "ｐａｓｓｗｏｒｄ１"):
        assert policy.broken_rules(variant) == ["common_password"], variant
    assert PasswordPolicy(block_common=False).broken_rules("PassWord1") == []


def test_blocklist_is_substantial() -> None:
    assert common_password_count() >= 10_000
    assert is_common_password("qwerty")


def test_max_length_boundary() -> None:
    policy = PasswordPolicy()
    assert policy.broken_rules("x7" * 128) == []
    assert policy.broken_rules("x7" * 128 + "q") == ["max_length"]


def test_length_counts_code_points_after_nfkc() -> None:
    policy = PasswordPolicy(block_common=False)
    decomposed = "e\u0301"  # two code points, one after NFKC
    assert policy.broken_rules(decomposed * 7) == ["min_length"]
    assert policy.broken_rules(decomposed * 8) == []
    ligature = "\ufb01"  # "ﬁ" becomes "fi"
    assert policy.broken_rules(ligature * 4) == []
    assert policy.broken_rules("🔑" * 8) == []


def test_describe() -> None:
    assert PasswordPolicy().describe("min_length") == "at least 8 characters"
    assert PasswordPolicy(min_length=1).describe("min_length") == "at least 1 character"
    assert PasswordPolicy().describe("max_length") == "at most 256 characters"
    for rule in RULES:
        assert PasswordPolicy().describe(rule)
    with pytest.raises(ValueError):
        PasswordPolicy().describe("nope")


def test_policy_rejects_impossible_bounds() -> None:
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=10, max_length=9)
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=0)


@given(st.text())
def test_broken_rules_never_raises(password: str) -> None:
    strict = PasswordPolicy(
        require_uppercase=True, require_lowercase=True, require_digit=True, require_symbol=True
    )
    assert set(strict.broken_rules(password)) <= set(RULES)


@given(st.text(min_size=8, max_size=300))
def test_long_enough_uncommon_passwords_pass(password: str) -> None:
    policy = PasswordPolicy()
    assume(policy.min_length <= len(unicodedata.normalize("NFKC", password)) <= policy.max_length)
    assume(not is_common_password(password))
    assert policy.broken_rules(password) == []
    policy.check(password)
