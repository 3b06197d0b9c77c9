"""Each user's SRP verifier for Cognito's USER_SRP_AUTH: made while the password is at hand.

A verifier needs the password in clear, which the server holds only at the moments a
password is chosen (sign-up, reset, change, an administrator's set or invitation, the
NEW_PASSWORD_REQUIRED answer) or proven (any password sign-in: `/v1/login`, the hosted
page, USER_PASSWORD_AUTH). Those paths call `derive` outside their transaction (a 3072-bit
modular exponentiation) and `save` inside it, with the password hash they store, so both
change together. A user whose verifier is missing (imported with a legacy hash, or from
before this table existed) gets one at their next password sign-in.

The stored row names what it was made from: the sub, the SRP user id (the username), the
pool name, the salt, and a tag of the password hash. Any of them changing (a password set
by a path that knew nothing of SRP, a renamed user, another pool id in the configuration)
makes the row stale, so `load` ignores it: an old verifier never outlives its password.
The verifier is sealed under the key-encryption key with all of these as associated data.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from authgate.identity import srp
from authgate.store import Transaction
from authgate.store.records import SrpVerifierRecord, UserRecord
from authgate.tokens.keys import KeyEncryptor


@dataclass(frozen=True)
class DerivedVerifier:
    """A verifier made from a password, not stored yet."""

    user_id: str
    pool: str
    salt: int
    verifier: int


@dataclass(frozen=True)
class Verifier:
    """A stored verifier that still fits its user."""

    user_id: str
    salt: int
    verifier: int


def password_tag(password_hash: str | None) -> str:
    """Which stored password a verifier belongs to (a hash of the hash: it tells nothing
    the users table does not)."""
    return hashlib.sha256((password_hash or "").encode("utf-8")).hexdigest()


def _aad(sub: str, user_id: str, pool: str, tag: str, salt: str) -> bytes:
    return "\x00".join(("authgate srp verifier v1", sub, user_id, pool, tag, salt)).encode()


class SrpVerifiers:
    def __init__(
        self, sealer: KeyEncryptor, user_pool_id: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._sealer = sealer
        self.pool = srp.pool_name(user_pool_id)
        self._clock = clock

    def derive(self, user_id: str, password: str) -> DerivedVerifier:
        """A fresh salt and the verifier of `password` for SRP user id `user_id`."""
        salt = srp.new_salt()
        return DerivedVerifier(
            user_id, self.pool, salt, srp.verifier(self.pool, user_id, password, salt)
        )

    async def save(self, tx: Transaction, user: UserRecord, derived: DerivedVerifier) -> None:
        """Store `derived` as `user`'s verifier; `user.password_hash` must already be the
        hash of the same password (the one this transaction stores)."""
        if derived.user_id != user.username or derived.pool != self.pool:
            await tx.srp.delete_verifier(user.sub)
            return
        tag = password_tag(user.password_hash)
        salt = srp.salt_hex(derived.salt)
        sealed = self._sealer.encrypt(
            srp.verifier_bytes(derived.verifier),
            _aad(user.sub, derived.user_id, derived.pool, tag, salt),
        )
        await tx.srp.put_verifier(
            SrpVerifierRecord(
                sub=user.sub,
                user_id=derived.user_id,
                pool=derived.pool,
                password_tag=tag,
                salt=salt,
                verifier_ciphertext=sealed,
                created_at=self._clock(),
            )
        )

    def _fits(self, row: SrpVerifierRecord | None, user: UserRecord) -> bool:
        return (
            row is not None
            and user.password_hash is not None
            and row.user_id == user.username
            and row.pool == self.pool
            and row.password_tag == password_tag(user.password_hash)
        )

    async def load(self, tx: Transaction, user: UserRecord) -> Verifier | None:
        """The user's verifier, or None when there is none or it no longer fits."""
        row = await tx.srp.get_verifier(user.sub)
        if row is None or not self._fits(row, user):
            return None
        aad = _aad(user.sub, row.user_id, row.pool, row.password_tag, row.salt)
        try:
            opened = self._sealer.decrypt(row.verifier_ciphertext, aad)
            return Verifier(row.user_id, int(row.salt, 16), srp.verifier_from_bytes(opened))
        except ValueError:
            return None

    async def missing(self, tx: Transaction, user: UserRecord) -> bool:
        """Whether a password sign-in of `user` should make a verifier now (no decryption:
        this runs on every sign-in)."""
        return not self._fits(await tx.srp.get_verifier(user.sub), user)


async def save_verifier(
    verifiers: SrpVerifiers | None,
    tx: Transaction,
    user: UserRecord,
    derived: DerivedVerifier | None,
) -> None:
    """`SrpVerifiers.save` where SRP may be off (no Cognito endpoint: no verifiers)."""
    if verifiers is not None and derived is not None:
        await verifiers.save(tx, user, derived)


def derive_verifier(
    verifiers: SrpVerifiers | None, user_id: str, password: str
) -> DerivedVerifier | None:
    return verifiers.derive(user_id, password) if verifiers is not None else None
