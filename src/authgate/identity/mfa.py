"""A user's second factor: TOTP enrolment and checks, recovery codes, the pool's MFA mode.

TOTP secrets are sealed with AES-256-GCM under the key-encryption key, bound to the user
(the AAD names the sub), so a database copy yields no secret and a sealed secret moved to
another row does not open. A code is accepted once: its time step must be newer than the
last accepted one, moved forward by a conditional update in the database, so a replay,
even on another replica, or an older code is refused.

Recovery codes are 10 characters from a 32-letter alphabet (50 random bits), stored as
HMAC-SHA256 under a key derived from the key-encryption key. A slow hash would buy
nothing: online guessing is throttled like passwords, and offline a database copy
without the key cannot test a single guess, where a plain SHA-256 of 50 bits could be
brute-forced. Each code works once; a new set replaces every earlier code.

Every check that can fail counts a failure in the login throttle of the user (and the
caller's address), exactly like a wrong password, and is refused while it is locked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from authgate.audit import Caller, record
from authgate.errors import (
    InvalidCode,
    MfaDisabled,
    MfaNotEnabled,
    MfaRequired,
    NoPendingEnrolment,
    NotFound,
)
from authgate.identity import totp
from authgate.identity.throttle import LoginThrottle
from authgate.store import Store, Transaction
from authgate.store.records import UserRecord
from authgate.tokens.amr import RECOVERY_CODE, TOTP
from authgate.tokens.keys import KeyEncryptor

Mode = Literal["off", "optional", "required"]
Need = Literal["totp", "mfa_setup"]
RECOVERY_CODES = 10
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: no i, l, o, u
_LOOKALIKES = str.maketrans({"i": "1", "l": "1", "o": "0"})
_RECOVERY_CHARS = 10
_MAX_RECOVERY_INPUT = 64

PasswordCheck = Callable[[UserRecord, object, Caller], Awaitable[None]]


@dataclass(frozen=True)
class Enrolment:
    """What an authenticator app needs: shown once, while the secret is pending."""

    secret: str
    otpauth_uri: str
    qr_svg: str

    def as_json(self) -> dict[str, str]:
        return {"secret": self.secret, "otpauth_uri": self.otpauth_uri, "qr_svg": self.qr_svg}


@dataclass(frozen=True)
class MfaStatus:
    totp: bool
    recovery_codes_left: int

    def as_json(self) -> dict[str, object]:
        return {"totp": self.totp, "recovery_codes_left": self.recovery_codes_left}


def new_recovery_code() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(_RECOVERY_CHARS))
    return f"{chars[:5]}-{chars[5:]}"


def normalize_recovery_code(value: object) -> str | None:
    """The code as stored (no separators, lower case, look-alikes folded), or None."""
    if not isinstance(value, str) or len(value) > _MAX_RECOVERY_INPUT:
        return None
    folded = value.replace("-", "").replace(" ", "").lower().translate(_LOOKALIKES)
    if len(folded) != _RECOVERY_CHARS or any(c not in _ALPHABET for c in folded):
        return None
    return folded


class RecoveryCodeHasher:
    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"authgate recovery code v1\x00" + key).digest()

    def hash(self, sub: str, normalized: str) -> str:
        return hmac.new(self._key, f"{sub}\x00{normalized}".encode(), hashlib.sha256).hexdigest()


def _aad(sub: str, pending: bool) -> bytes:
    return f"authgate totp {'pending' if pending else 'active'} {sub}".encode()


class Mfa:
    def __init__(
        self,
        store: Store,
        sealer: KeyEncryptor,
        kek: bytes,
        throttle: LoginThrottle,
        mode: Mode,
        issuer_label: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._recovery = RecoveryCodeHasher(kek)
        self._throttle = throttle
        self.mode: Mode = mode
        self._issuer = issuer_label
        self._clock = clock

    @property
    def second_factor(self) -> SecondFactorCheck:
        """The account page's re-authentication by code (`ui.reauth.SecondFactor`)."""
        return SecondFactorCheck(self)

    def ensure_on(self) -> None:
        if self.mode == "off":
            raise MfaDisabled()

    # -- reading -----------------------------------------------------------------------

    async def status(self, sub: str) -> MfaStatus:
        async with self._store.read() as tx:
            found = await tx.mfa.get_totp(sub)
            left = await tx.mfa.recovery_codes_left(sub)
        return MfaStatus(found is not None and found.secret_ciphertext is not None, left)

    async def need(self, tx: Transaction, user: UserRecord) -> Need | None:
        """What a password sign-in still lacks: a TOTP code, an enrolment, or nothing."""
        if self.mode == "off":
            return None
        found = await tx.mfa.get_totp(user.sub)
        if found is not None and found.secret_ciphertext is not None:
            return "totp"
        return "mfa_setup" if self.mode == "required" else None

    # -- enrolment ---------------------------------------------------------------------

    async def begin(self, tx: Transaction, user: UserRecord) -> Enrolment:
        """A new pending secret, replacing any pending one; the active one stays in force."""
        self.ensure_on()
        secret = totp.new_secret()
        sealed = self._sealer.encrypt(secret.encode(), _aad(user.sub, pending=True))
        await tx.mfa.put_pending(user.sub, sealed, self._clock())
        uri = totp.otpauth_uri(secret, user.username, self._issuer)
        return Enrolment(secret, uri, totp.qr_svg(uri))

    async def pending(self, tx: Transaction, user: UserRecord) -> Enrolment | None:
        """The enrolment in progress, shown again (a page re-rendered after a wrong code
        must not swap the secret the person just scanned)."""
        found = await tx.mfa.get_totp(user.sub)
        if found is None or found.pending_ciphertext is None:
            return None
        secret = self._sealer.decrypt(found.pending_ciphertext, _aad(user.sub, pending=True))
        uri = totp.otpauth_uri(secret.decode(), user.username, self._issuer)
        return Enrolment(secret.decode(), uri, totp.qr_svg(uri))

    async def confirm(
        self, tx: Transaction, user: UserRecord, code: object, caller: Caller
    ) -> list[str] | None:
        """Turn the pending secret on with its first code: the new recovery codes, or None
        for a wrong code (counted in the throttle; the caller commits, then refuses)."""
        self.ensure_on()
        found = await tx.mfa.get_totp(user.sub)
        if found is None or found.pending_ciphertext is None:
            raise NoPendingEnrolment()
        pending = found.pending_ciphertext
        secret = self._sealer.decrypt(pending, _aad(user.sub, pending=True)).decode()
        step = totp.matching_step(secret, code, self._clock())
        if step is None:
            await self._failed(tx, user, caller, "mfa_enrolment_code_wrong")
            return None
        sealed = self._sealer.encrypt(secret.encode(), _aad(user.sub, pending=False))
        if not await tx.mfa.activate_pending(user.sub, pending, sealed, step, self._clock()):
            raise NoPendingEnrolment("The enrolment was replaced meanwhile; start again.")
        codes = await self._new_recovery_codes(tx, user.sub)
        await record(tx, "mfa_totp_enabled", caller, sub=user.sub)
        return codes

    # -- checking ----------------------------------------------------------------------

    async def check_totp(self, tx: Transaction, user: UserRecord, code: object) -> bool:
        """True when `code` is the active secret's code for a step not used before, which
        is then used up. Counts nothing: see `verify`."""
        found = await tx.mfa.get_totp(user.sub)
        if found is None or found.secret_ciphertext is None:
            return False
        secret = self._sealer.decrypt(found.secret_ciphertext, _aad(user.sub, pending=False))
        step = totp.matching_step(secret.decode(), code, self._clock())
        return step is not None and await tx.mfa.use_step(user.sub, step)

    async def use_recovery_code(self, tx: Transaction, user: UserRecord, code: object) -> bool:
        normalized = normalize_recovery_code(code)
        if normalized is None:
            return False
        code_hash = self._recovery.hash(user.sub, normalized)
        return await tx.mfa.use_recovery_code(user.sub, code_hash, self._clock())

    async def verify(
        self,
        tx: Transaction,
        user: UserRecord,
        caller: Caller,
        *,
        code: object = None,
        recovery_code: object = None,
    ) -> str | None:
        """The amr value of the factor that verified (`otp` or `mfa`), or None: then a
        failure is counted and audited in `tx`, which the caller commits before refusing.
        A `code` that is no TOTP code is tried as a recovery code."""
        factor: str | None = None
        if code is not None and totp.looks_like_totp(code):
            factor = TOTP if await self.check_totp(tx, user, code) else None
        else:
            given = recovery_code if recovery_code is not None else code
            factor = RECOVERY_CODE if await self.use_recovery_code(tx, user, given) else None
        if factor is None:
            await self._failed(tx, user, caller, "mfa_code_wrong")
        elif factor == RECOVERY_CODE:
            left = await tx.mfa.recovery_codes_left(user.sub)
            await record(tx, "mfa_recovery_code_used", caller, sub=user.sub, left=left)
        return factor

    async def _failed(self, tx: Transaction, user: UserRecord, caller: Caller, event: str) -> None:
        lockout = await self._throttle.failure(tx, user.username, caller.ip)
        await record(tx, event, caller, sub=user.sub)
        if lockout is not None:
            await record(
                tx, "lockout", caller, sub=user.sub, username=user.username, seconds=lockout
            )

    async def check_throttle(self, user: UserRecord, caller: Caller) -> None:
        """Refuse (TooManyRequests) while the user or the address is locked out."""
        await self._throttle.check(user.username, caller.ip)

    # -- self-service ------------------------------------------------------------------
    # Each change needs re-authentication first: the API and the account page pass the
    # password check (`check_password`); the Cognito adapter, whose access token is the
    # proof it accepts, passes None.

    async def _password_then_throttle(
        self,
        user: UserRecord,
        caller: Caller,
        check_password: PasswordCheck | None,
        password: object,
    ) -> None:
        if check_password is not None:
            await check_password(user, password, caller)
        await self.check_throttle(user, caller)

    async def enrol(
        self,
        user: UserRecord,
        caller: Caller,
        *,
        check_password: PasswordCheck | None = None,
        password: object = None,
        code: object = None,
    ) -> Enrolment:
        """Start (or restart) an enrolment; replacing an enabled factor also needs one of
        its codes (or a recovery code)."""
        self.ensure_on()
        await self._password_then_throttle(user, caller, check_password, password)
        async with self._store.transaction() as tx:
            enabled = await self.need(tx, user) == "totp"
            ok = not enabled or await self.verify(tx, user, caller, code=code) is not None
            enrolment = await self.begin(tx, user) if ok else None
        if enrolment is None:
            raise InvalidCode("Enter a code from your current authenticator.")
        return enrolment

    async def finish_enrolment(self, user: UserRecord, code: object, caller: Caller) -> list[str]:
        self.ensure_on()
        await self.check_throttle(user, caller)
        async with self._store.transaction() as tx:
            codes = await self.confirm(tx, user, code, caller)
        if codes is None:
            raise InvalidCode()
        return codes

    async def _reauthenticated(
        self,
        tx: Transaction,
        user: UserRecord,
        code: object,
        caller: Caller,
    ) -> bool:
        found = await tx.mfa.get_totp(user.sub)
        if found is None or found.secret_ciphertext is None:
            raise MfaNotEnabled()
        return await self.verify(tx, user, caller, code=code) is not None

    async def disable(
        self,
        user: UserRecord,
        code: object,
        caller: Caller,
        *,
        check_password: PasswordCheck | None = None,
        password: object = None,
    ) -> None:
        """Remove the TOTP factor and every recovery code; needs a code (TOTP or
        recovery). Refused while the pool requires MFA."""
        self.ensure_on()
        if self.mode == "required":
            raise MfaRequired()
        await self._password_then_throttle(user, caller, check_password, password)
        async with self._store.transaction() as tx:
            ok = await self._reauthenticated(tx, user, code, caller)
            if ok:
                await tx.mfa.delete_totp(user.sub)
                await record(tx, "mfa_totp_disabled", caller, sub=user.sub)
        if not ok:
            raise InvalidCode()

    async def regenerate(
        self,
        user: UserRecord,
        code: object,
        caller: Caller,
        *,
        check_password: PasswordCheck | None = None,
        password: object = None,
    ) -> list[str]:
        """A fresh set of recovery codes; every earlier one stops working."""
        self.ensure_on()
        await self._password_then_throttle(user, caller, check_password, password)
        async with self._store.transaction() as tx:
            ok = await self._reauthenticated(tx, user, code, caller)
            codes = await self._new_recovery_codes(tx, user.sub) if ok else None
            if codes is not None:
                await record(tx, "mfa_recovery_codes_regenerated", caller, sub=user.sub)
        if codes is None:
            raise InvalidCode()
        return codes

    async def check_code(self, user: UserRecord, code: object, caller: Caller) -> bool:
        """One code (TOTP or recovery), spent if right, counted if wrong: for a
        re-authentication by second factor."""
        await self.check_throttle(user, caller)
        async with self._store.transaction() as tx:
            factor = await self.verify(tx, user, caller, code=code)
        return factor is not None

    async def _new_recovery_codes(self, tx: Transaction, sub: str) -> list[str]:
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        hashes = [self._recovery.hash(sub, c.replace("-", "")) for c in codes]
        await tx.mfa.replace_recovery_codes(sub, hashes, self._clock())
        return codes

    # -- administration ----------------------------------------------------------------

    async def reset(self, sub: str, caller: Caller) -> bool:
        """Remove the user's TOTP factor and recovery codes (a lost device); audited.
        False when there was nothing to remove; NotFound for an unknown user. With
        `mfa: required` the user enrols again at the next sign-in."""
        async with self._store.transaction() as tx:
            if await tx.users.get(sub) is None:
                raise NotFound("No such user.")
            removed = await tx.mfa.delete_totp(sub)
            await record(tx, "admin_mfa_reset", caller, sub=sub, removed=removed)
        return removed


class SecondFactorCheck:
    """Re-authentication by second factor, as the account page's `reauth.SecondFactor`
    protocol asks for it."""

    def __init__(self, mfa: Mfa) -> None:
        self._mfa = mfa

    async def enrolled(self, user: UserRecord) -> bool:
        return self._mfa.mode != "off" and (await self._mfa.status(user.sub)).totp

    async def verify(self, user: UserRecord, code: str, caller: Caller) -> bool:
        return await self._mfa.check_code(user, code, caller)
