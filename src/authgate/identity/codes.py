"""One-time codes: six digits, stored as a keyed hash.

A six-digit code has only 10^6 values, so a plain hash in a leaked database could be
reversed at once; the HMAC key (derived from the key-encryption key) keeps it opaque.
The hash binds the code to its user and purpose, so a reset code cannot confirm a sign-up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from authgate.store import Transaction
from authgate.store.records import CodeRecord


class CodeHasher:
    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"authgate one-time code v1\x00" + key).digest()

    def hash(self, sub: str, purpose: str, code: str) -> str:
        message = f"{purpose}\x00{sub}\x00{code}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, stored: str, sub: str, purpose: str, code: str) -> bool:
        return hmac.compare_digest(stored, self.hash(sub, purpose, code))


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def looks_like_code(value: object) -> bool:
    return isinstance(value, str) and len(value) == 6 and value.isascii() and value.isdigit()


class CodeBook:
    """Issues and checks codes within the caller's transaction."""

    def __init__(self, hasher: CodeHasher, attempts: int, clock: Callable[[], float]) -> None:
        self._hasher = hasher
        self._attempts = attempts
        self._clock = clock

    async def issue(self, tx: Transaction, sub: str, purpose: str, ttl: float) -> str:
        code = new_code()
        await tx.codes.put(
            CodeRecord(
                sub=sub,
                purpose=purpose,
                code_hash=self._hasher.hash(sub, purpose, code),
                expires_at=self._clock() + ttl,
                attempts_left=self._attempts,
            )
        )
        return code

    async def redeem(self, tx: Transaction, sub: str, purpose: str, code: object) -> bool:
        """True once for the right code; a wrong try counts against it, an expired one dies."""
        stored = await tx.codes.get(sub, purpose)
        if stored is None:
            return False
        if stored.expires_at <= self._clock():
            await tx.codes.delete(sub, purpose)
            return False
        if looks_like_code(code) and self._hasher.matches(
            stored.code_hash, sub, purpose, str(code)
        ):
            await tx.codes.delete(sub, purpose)
            return True
        await tx.codes.spend_attempt(sub, purpose)
        return False
