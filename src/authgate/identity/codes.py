"""One-time codes: six digits, stored as a keyed hash, with budgets that outlive each code.

A six-digit code has only 10^6 values, so a plain hash in a leaked database could be
reversed at once; the HMAC key (derived from the key-encryption key) keeps it opaque.
The hash binds the code to its user and purpose, so a reset code cannot confirm a sign-up.

One code dies after a few wrong tries, but a new one can be asked for, so the wrong tries
are also counted per user and purpose across codes: at the daily budget the purpose
locks, and no code of it is issued or accepted until an administrator (or, for a reset,
the owner signing in with their password) lifts the lock. Issuing is limited per user and
purpose and per recipient address, so nobody can mail one inbox without end. Every wrong
try, lock and refusal is audited. All counts live in the database, shared by replicas.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from authgate.audit import Caller, record
from authgate.store import Transaction
from authgate.store.records import CodeRecord
from authgate.units import Rate

PURPOSES = ("signup", "reset", "verify_email")
OWNER_UNLOCKS = ("reset",)
"""Purposes a successful password sign-in unlocks. Not signup or verify_email: there the
one who knows the password may be the very person guessing a code sent to someone else."""


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


@dataclass(frozen=True)
class CodeBudget:
    """How many codes may be tried, issued and mailed, across codes."""

    attempts: int = 5
    wrong_tries: Rate = Rate(count=10, period=86400)
    issues_per_user: Rate = Rate(count=5, period=86400)
    mails_per_address: Rate = Rate(count=10, period=86400)


class CodeRefused(Exception):
    """No code was issued: the purpose is locked, or a re-issue limit is reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CodeBook:
    """Issues and checks codes within the caller's transaction."""

    def __init__(self, hasher: CodeHasher, budget: CodeBudget, clock: Callable[[], float]) -> None:
        self._hasher = hasher
        self._budget = budget
        self._clock = clock

    @property
    def budget(self) -> CodeBudget:
        return self._budget

    async def issue(
        self, tx: Transaction, sub: str, purpose: str, ttl: float, to: str, caller: Caller
    ) -> str:
        """A new code for `to`, replacing the last; `CodeRefused` (audited) when not allowed."""
        budget, now = self._budget, self._clock()
        if await tx.limits.code_locked(sub, purpose):
            await self._refuse(tx, sub, purpose, "locked", caller)
        per_user = budget.issues_per_user
        if await tx.limits.add(f"issued:{sub}:{purpose}", now, per_user.period) > per_user.count:
            await self._refuse(tx, sub, purpose, "user_limit", caller)
        if not await self.allow_mail(tx, to):
            await self._refuse(tx, sub, purpose, "address_limit", caller)
        code = new_code()
        await tx.codes.put(
            CodeRecord(
                sub=sub,
                purpose=purpose,
                code_hash=self._hasher.hash(sub, purpose, code),
                expires_at=now + ttl,
                attempts_left=budget.attempts,
            )
        )
        return code

    async def allow_mail(self, tx: Transaction, to: str) -> bool:
        """Count one message to `to`; False when the address had its share for now."""
        rate = self._budget.mails_per_address
        return await tx.limits.add(f"mail:{to}", self._clock(), rate.period) <= rate.count

    async def _refuse(
        self, tx: Transaction, sub: str, purpose: str, reason: str, caller: Caller
    ) -> None:
        await record(tx, "code_refused", caller, sub=sub, purpose=purpose, reason=reason)
        raise CodeRefused(reason)

    async def locked(self, tx: Transaction, sub: str, purpose: str) -> bool:
        return await tx.limits.code_locked(sub, purpose)

    async def redeem(
        self, tx: Transaction, sub: str, purpose: str, code: object, caller: Caller
    ) -> bool:
        """True once for the right code; a wrong try counts against the code and the budget."""
        return await self.refusal(tx, sub, purpose, code, caller) is None

    async def refusal(
        self, tx: Transaction, sub: str, purpose: str, code: object, caller: Caller
    ) -> str | None:
        """Redeem like `redeem`, saying why not: None (redeemed), "locked", "missing",
        "expired" or "wrong". Callers that must not tell accounts apart show one answer."""
        if await tx.limits.code_locked(sub, purpose):
            return "locked"
        stored = await tx.codes.get(sub, purpose)
        if stored is None:
            return "missing"
        now = self._clock()
        if stored.expires_at <= now:
            await tx.codes.delete(sub, purpose)
            return "expired"
        if looks_like_code(code) and self._hasher.matches(
            stored.code_hash, sub, purpose, str(code)
        ):
            await tx.codes.delete(sub, purpose)
            return None
        await tx.codes.spend_attempt(sub, purpose)
        rate = self._budget.wrong_tries
        wrong = await tx.limits.add(f"wrong:{sub}:{purpose}", now, rate.period)
        await record(tx, "code_wrong", caller, sub=sub, purpose=purpose, wrong_in_window=wrong)
        if wrong >= rate.count and await tx.limits.lock_codes(sub, purpose, now):
            await tx.codes.delete(sub, purpose)
            await record(tx, "code_purpose_locked", caller, sub=sub, purpose=purpose)
        return "wrong"

    async def unlock(
        self, tx: Transaction, sub: str, purposes: tuple[str, ...], caller: Caller
    ) -> None:
        """Lift locks and start the wrong-try budgets afresh (the owner or an admin acted)."""
        for purpose in await tx.limits.unlock_codes(sub, purposes):
            await tx.limits.reset(f"wrong:{sub}:{purpose}")
            await record(tx, "code_purpose_unlocked", caller, sub=sub, purpose=purpose)
