"""Authorization codes (RFC 6749 4.1 with PKCE, RFC 7636): issue and redeem.

A code is 256 random bits, stored only as its SHA-256 hash, lives at most 60 seconds and
is spent by a conditional update, so two concurrent redemptions cannot both win. Spending,
checking and issuing happen in one transaction: a replay that arrives while the first
redemption is still issuing waits for it and then revokes what it issued (RFC 6749 4.1.2,
OAuth 2.0 Security BCP 4.5), instead of slipping between the two.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from authgate.audit import SYSTEM, Caller, record
from authgate.store import Store, Transaction
from authgate.store.records import AuthorizationCodeRecord
from authgate.tokens import pkce
from authgate.tokens.amr import PASSWORD, loaded, stored
from authgate.tokens.errors import InvalidGrant
from authgate.tokens.revocation import DenyList

MAX_CODE_TTL = 60.0
MAX_CODE_LENGTH = 512
# A spent code is kept this long after it expired, so a late replay still finds what it issued.
KEEP_SPENT = 86400.0
PURGE_EVERY = 60.0

T = TypeVar("T")


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True)
class CodeGrant:
    """What the user approved, as the code recorded it."""

    client_id: str
    sub: str
    scope: str
    nonce: str | None
    auth_time: float
    amr: tuple[str, ...] = (PASSWORD,)


@dataclass(frozen=True)
class IssuedFromCode:
    """What a redemption issued, kept with the code so that a replay can revoke it."""

    family_id: str | None
    access_jti: str
    access_expires_at: float


class CodeReplayed(InvalidGrant):
    """A spent code came back; what it issued is revoked (the jti is named for the cache)."""

    def __init__(self, revoked_jti: str | None, expires_at: float | None) -> None:
        super().__init__("The authorization code was already used.")
        self.revoked_jti = revoked_jti
        self.expires_at = expires_at


class AuthorizationCodes:
    def __init__(
        self,
        store: Store,
        ttl: float,
        clock: Callable[[], float] = time.time,
        deny: DenyList | None = None,
    ) -> None:
        self._store = store
        self._deny = deny
        self._ttl = min(ttl, MAX_CODE_TTL)
        self._clock = clock
        self._purged_at = 0.0

    async def issue(
        self,
        *,
        client_id: str,
        sub: str,
        redirect_uri: str,
        scope: str,
        nonce: str | None,
        code_challenge: str | None,
        auth_time: float,
        amr: Sequence[str] = (PASSWORD,),
    ) -> str:
        """A fresh code for what the user approved (and how they signed in, `amr`);
        only its hash is stored."""
        code = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._store.transaction() as tx:
            if now - self._purged_at >= PURGE_EVERY:
                self._purged_at = now
                await tx.oauth.purge_codes(now - KEEP_SPENT)
            await tx.oauth.add_code(
                AuthorizationCodeRecord(
                    code_hash=hash_code(code),
                    client_id=client_id,
                    sub=sub,
                    redirect_uri=redirect_uri,
                    scope=scope,
                    nonce=nonce,
                    code_challenge=code_challenge,
                    auth_time=auth_time,
                    created_at=now,
                    expires_at=now + self._ttl,
                    amr=stored(amr),
                )
            )
        return code

    async def redeem(
        self,
        *,
        code: object,
        client_id: str,
        redirect_uri: object,
        code_verifier: object,
        pkce_required: bool,
        issue: Callable[[Transaction, CodeGrant], Awaitable[tuple[IssuedFromCode, T]]],
        caller: Caller = SYSTEM,
    ) -> T:
        """Spend `code` and run `issue` in the same transaction; InvalidGrant otherwise.

        The code is spent even when a check fails, so a stolen code cannot be used to
        guess its verifier. A replayed code raises CodeReplayed after revoking the refresh
        family and access token that its first redemption issued, and the access tokens
        that family issued since.
        """
        if not isinstance(code, str) or not code or len(code) > MAX_CODE_LENGTH:
            raise InvalidGrant("The authorization code is invalid.")
        code_hash = hash_code(code)
        now = self._clock()
        failure: InvalidGrant | None = None
        async with self._store.transaction() as tx:
            found = await tx.oauth.get_code(code_hash)
            if found is None:
                raise InvalidGrant("The authorization code is invalid.")
            if not await tx.oauth.use_code(code_hash, now):
                failure = await self._revoke_issued(tx, code_hash, now, caller)
            else:
                problem = _mismatch(
                    found, now, client_id, redirect_uri, code_verifier, pkce_required
                )
                if problem is not None:
                    failure = InvalidGrant(problem)
                else:
                    grant = CodeGrant(
                        found.client_id,
                        found.sub,
                        found.scope,
                        found.nonce,
                        found.auth_time,
                        tuple(loaded(found.amr)),
                    )
                    issued, result = await issue(tx, grant)
                    await tx.oauth.record_code_issue(
                        code_hash, issued.family_id, issued.access_jti, issued.access_expires_at
                    )
        if failure is not None:
            raise failure
        return result

    async def _revoke_issued(
        self, tx: Transaction, code_hash: str, now: float, caller: Caller
    ) -> CodeReplayed:
        # Read again: a redemption that won the race has committed by now (its row lock
        # made our conditional update wait), so what it issued is visible.
        spent = await tx.oauth.get_code(code_hash)
        jti = spent.access_jti if spent else None
        expires_at = spent.access_expires_at if spent else None
        if spent is not None and spent.family_id is not None:
            if self._deny is not None:  # with every access token the family issued since
                await self._deny.revoke_families(tx, [spent.family_id])
            else:
                await tx.refresh.revoke_family(spent.family_id, now)
        if jti is not None and expires_at is not None:
            await tx.oauth.revoke_jti(jti, now, expires_at)
        if spent is not None:
            await record(
                tx,
                "authorization_code_replayed",
                caller,
                sub=spent.sub,
                client_id=spent.client_id,
                family_id=spent.family_id,
            )
        return CodeReplayed(jti, expires_at)


def _mismatch(
    code: AuthorizationCodeRecord,
    now: float,
    client_id: str,
    redirect_uri: object,
    verifier: object,
    pkce_required: bool,
) -> str | None:
    """Why this redemption does not match its code, or None when it does."""
    if code.expires_at <= now:
        return "The authorization code has expired."
    if not hmac.compare_digest(code.client_id.encode(), client_id.encode()):
        return "The authorization code was issued to another client."
    # RFC 6749 4.1.3: redirect_uri must be identical to the one in the authorization request.
    if not isinstance(redirect_uri, str) or redirect_uri != code.redirect_uri:
        return "redirect_uri does not match the authorization request."
    if code.code_challenge is None:
        if pkce_required:
            return "PKCE is required, and the authorization request had no code_challenge."
        if verifier is not None:
            # A verifier without a challenge may be a downgrade attempt (Security BCP 4.8.2).
            return "code_verifier was sent, but the authorization request had no code_challenge."
        return None
    if verifier is None:
        return "code_verifier is required."
    if not pkce.verifies(verifier, code.code_challenge):
        return "code_verifier does not match the code_challenge."
    return None
