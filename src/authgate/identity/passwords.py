"""Password hashing, legacy-hash verification and the password policy.

The common-password blocklist is Django's (BSD-3), derived from Royce Williams' list.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import gzip
import hashlib
import hmac
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import TypeVar

import argon2
import bcrypt
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import verify_secret

from authgate.errors import InvalidPassword

_T = TypeVar("_T")

MAX_PASSWORD_BYTES = 4096
"""Longest UTF-8 password accepted; bounds the work an attacker can request."""

_BCRYPT_MAX_BYTES = 72
_BCRYPT_RE = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
MAX_PBKDF2_ITERATIONS = 10_000_000
"""More PBKDF2 rounds would turn every sign-in of that user into a denial of service."""

# Django: the salt is literal text (anything but "$"), the hash standard base64.
_DJANGO_PBKDF2_RE = re.compile(r"pbkdf2_sha256\$([1-9][0-9]{0,9})\$([^$]+)\$([A-Za-z0-9+/]+={0,2})")
# passlib: salt and hash in "adapted base64", i.e. "." for "+" and no padding.
_PASSLIB_PBKDF2_RE = re.compile(
    r"\$pbkdf2-sha256\$([1-9][0-9]{0,9})\$([A-Za-z0-9./]+)\$([A-Za-z0-9./]+)"
)
_PBKDF2_DIGEST_BYTES = range(16, 65)
_PHC_B64_RE = re.compile(r"[A-Za-z0-9+/]+")


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost; the defaults are OWASP's minimum recommendation."""

    memory_kib: int = 19456
    time_cost: int = 2
    parallelism: int = 1


class PasswordHasher:
    """argon2id hashing off the event loop with bounded concurrency.

    Each hash costs ~19 MiB and tens of milliseconds, so work runs in a dedicated
    thread pool and callers queue on a semaphore instead of piling into the pool.
    """

    def __init__(
        self, params: Argon2Params = Argon2Params(), max_concurrency: int | None = None
    ) -> None:
        slots = max_concurrency if max_concurrency is not None else usable_cpus()
        if slots < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._argon2 = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        self._executor = ThreadPoolExecutor(slots, thread_name_prefix="authgate-passwords")
        self._slots = asyncio.Semaphore(slots)
        self.workers = slots
        self.waiting = 0
        """Callers queued for a worker now (a gauge for metrics)."""
        self.on_wait: Callable[[float], None] = _ignore
        """Told how long each caller waited for a worker (a histogram for metrics)."""
        # Unknown users and unusable hashes verify against this, so they cost a real verify.
        self._dummy = self._argon2.hash(secrets.token_bytes(32))
        self._current = argon2.extract_parameters(self._dummy)

    async def hash(self, password: str) -> str:
        """Return an argon2id PHC string; refuses passwords `verify` would never accept."""
        secret = _encode(password)
        if len(secret) > MAX_PASSWORD_BYTES:
            raise ValueError(f"password is longer than {MAX_PASSWORD_BYTES} bytes")
        return await self._run(self._argon2.hash, secret)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Check `password` against a stored hash of any supported format; never raises.

        A missing or unusable hash still costs one argon2id verify, so response time does
        not reveal whether the account exists.
        """
        return await self._run(functools.partial(self._verify_blocking, stored), _encode(password))

    def needs_rehash(self, stored: str) -> bool:
        """True unless `stored` is argon2id with exactly the current parameters."""
        return _argon2_params(stored) != self._current

    async def close(self) -> None:
        """Wait for in-flight work and stop the worker threads."""
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def _run(self, work: Callable[[bytes], _T], secret: bytes) -> _T:
        queued = time.perf_counter()
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        try:
            self.on_wait(time.perf_counter() - queued)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, work, secret)
        finally:
            self._slots.release()

    def _verify_blocking(self, stored: str | None, secret: bytes) -> bool:
        if stored is not None and len(secret) <= MAX_PASSWORD_BYTES:
            outcome = _check(stored, secret)
            if outcome is not None:
                return outcome
        with contextlib.suppress(VerificationError):
            self._argon2.verify(self._dummy, secret[:MAX_PASSWORD_BYTES])
        return False


def usable_cpus() -> int:
    """CPUs this process may run on (taskset, cpusets), not all the machine has: more
    hashing threads than that only make the hashes and the event loop take turns."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _ignore(seconds: float) -> None:
    return None


def pbkdf2_sha256_hash(salt: bytes, digest: bytes, iterations: int = 100_000) -> str:
    """passlib's `$pbkdf2-sha256$` form of a raw-salt PBKDF2-SHA256 hash, e.g. from a
    hand-written service that kept `salt` and `pbkdf2_hmac('sha256', password, salt, 100000)`.

    Django's `pbkdf2_sha256$` form cannot carry it: Django hashes the salt's text, so
    arbitrary salt bytes have no Django spelling.
    """
    if (
        not 1 <= iterations <= MAX_PBKDF2_ITERATIONS
        or not salt
        or len(digest) not in _PBKDF2_DIGEST_BYTES
    ):
        raise ValueError(
            f"need 1 to {MAX_PBKDF2_ITERATIONS} iterations,"
            " a non-empty salt and a 16-64 byte digest"
        )
    return f"$pbkdf2-sha256${iterations}${_ab64_encode(salt)}${_ab64_encode(digest)}"


def is_supported_hash(stored: str) -> bool:
    """Whether `verify` can check this stored hash: argon2 PHC, bcrypt, Django's
    `pbkdf2_sha256$` or passlib's `$pbkdf2-sha256$`."""
    return (
        _argon2_params(stored) is not None
        or _BCRYPT_RE.fullmatch(stored) is not None
        or _parse_pbkdf2(stored) is not None
    )


def _encode(password: str) -> bytes:
    # surrogatepass: a lone surrogate (valid in JSON) must hash, not crash, and do so consistently.
    return password.encode("utf-8", "surrogatepass")


def _check(stored: str, secret: bytes) -> bool | None:
    """Verify `secret` against `stored`; None when `stored` is not a usable hash."""
    params = _argon2_params(stored)
    if params is not None:
        try:
            return verify_secret(stored.encode("ascii"), secret, params.type)
        except VerifyMismatchError:
            return False
        except VerificationError:
            return None
    if _BCRYPT_RE.fullmatch(stored):
        # bcrypt ignores bytes past 72; legacy systems truncated silently, so we do too.
        try:
            return bcrypt.checkpw(secret[:_BCRYPT_MAX_BYTES], stored.encode("ascii"))
        except ValueError:
            return None
    pbkdf2 = _parse_pbkdf2(stored)
    if pbkdf2 is not None:
        return pbkdf2.matches(secret)
    return None


def _argon2_params(stored: str) -> argon2.Parameters | None:
    if not stored.startswith("$argon2") or not stored.isascii():
        return None
    try:
        params = argon2.extract_parameters(stored)
    except InvalidHashError:
        return None
    salt_b64, hash_b64 = stored.rsplit("$", 2)[1:]
    if not (_PHC_B64_RE.fullmatch(salt_b64) and _PHC_B64_RE.fullmatch(hash_b64)):
        return None
    return params


@dataclass(frozen=True)
class _Pbkdf2:
    iterations: int
    salt: bytes
    digest: bytes

    def matches(self, secret: bytes) -> bool:
        candidate = hashlib.pbkdf2_hmac(
            "sha256", secret, self.salt, self.iterations, dklen=len(self.digest)
        )
        return hmac.compare_digest(candidate, self.digest)


def _parse_pbkdf2(stored: str) -> _Pbkdf2 | None:
    """Django's or passlib's PBKDF2-SHA256; None if malformed or too costly to check."""
    if django := _DJANGO_PBKDF2_RE.fullmatch(stored):
        # Django hashes the salt's UTF-8 text; unprintable text is no salt Django made.
        salt = django[2].encode("utf-8") if django[2].isprintable() else None
        digest = _b64decode(django[3])
        rounds = django[1]
    elif passlib := _PASSLIB_PBKDF2_RE.fullmatch(stored):
        salt, digest, rounds = _ab64_decode(passlib[2]), _ab64_decode(passlib[3]), passlib[1]
    else:
        return None
    iterations = int(rounds)
    if (
        not salt
        or digest is None
        or len(digest) not in _PBKDF2_DIGEST_BYTES
        or iterations > MAX_PBKDF2_ITERATIONS
    ):
        return None
    return _Pbkdf2(iterations, salt, digest)


def _b64decode(text: str) -> bytes | None:
    """Standard base64, canonical spelling only, so each hash has exactly one stored form."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _ab64_encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("+", ".")


def _ab64_decode(text: str) -> bytes | None:
    return _b64decode(text.replace(".", "+") + "=" * (-len(text) % 4))


RULES = (
    "min_length",
    "max_length",
    "require_uppercase",
    "require_lowercase",
    "require_digit",
    "require_symbol",
    "common_password",
)
"""Every rule id, in the order `PasswordPolicy.broken_rules` reports them."""


@dataclass(frozen=True)
class PasswordPolicy:
    """Rules a new password must meet; lengths count code points after NFKC."""

    min_length: int = 8
    max_length: int = 256
    require_uppercase: bool = False
    require_lowercase: bool = False
    require_digit: bool = False
    require_symbol: bool = False
    block_common: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError("need 1 <= min_length <= max_length")

    def broken_rules(self, password: str) -> list[str]:
        """Ids of the rules `password` breaks, in `RULES` order."""
        text = unicodedata.normalize("NFKC", password)
        broken = {
            "min_length": len(text) < self.min_length,
            "max_length": len(text) > self.max_length,
            "require_uppercase": self.require_uppercase and not any(c.isupper() for c in text),
            "require_lowercase": self.require_lowercase and not any(c.islower() for c in text),
            "require_digit": self.require_digit and not any(c.isdigit() for c in text),
            "require_symbol": self.require_symbol and not any(_is_symbol(c) for c in text),
            "common_password": self.block_common and is_common_password(text),
        }
        return [rule for rule in RULES if broken[rule]]

    def check(self, password: str) -> None:
        """Raise `InvalidPassword` naming every broken rule, so users fix them in one go."""
        rules = self.broken_rules(password)
        if rules:
            needs = "; ".join(self.describe(rule) for rule in rules)
            raise InvalidPassword(
                f"The password does not meet the password policy: {needs}.", rules=rules
            )

    def describe(self, rule: str) -> str:
        """Human phrase for a rule id, e.g. "at least 8 characters"."""
        descriptions = {
            "min_length": f"at least {_characters(self.min_length)}",
            "max_length": f"at most {_characters(self.max_length)}",
            "require_uppercase": "at least one uppercase letter",
            "require_lowercase": "at least one lowercase letter",
            "require_digit": "at least one digit",
            "require_symbol": "at least one symbol (not a letter, digit or space)",
            "common_password": "not a commonly used password",
        }
        try:
            return descriptions[rule]
        except KeyError:
            raise ValueError(f"unknown password rule: {rule!r}") from None


def is_common_password(password: str) -> bool:
    """Whether `password` is on the shipped blocklist, ignoring case and NFKC variants."""
    return _fold(password) in _blocklist()


def common_password_count() -> int:
    """Number of distinct entries in the shipped blocklist."""
    return len(_blocklist())


def _characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


def _is_symbol(char: str) -> bool:
    return not char.isalnum() and not char.isspace()


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@functools.cache
def _blocklist() -> frozenset[str]:
    packed = resources.files("authgate.identity").joinpath("common-passwords.txt.gz")
    lines = gzip.decompress(packed.read_bytes()).decode("utf-8").splitlines()
    return frozenset(_fold(line) for line in lines if line)
