"""Signing keys as stored: encrypted at rest, loaded into a `KeyRing`, rotated on demand.

Every process keeps the ring in memory and reloads it periodically and when a token names
a key it has not seen, so a rotation on one replica reaches the others without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from authgate.audit import Caller
from authgate.audit import record as audit
from authgate.cluster.notices import Announce, silent
from authgate.store import Store
from authgate.store.records import KeyRecord
from authgate.tokens.keys import (
    Algorithm,
    KeyEncryptor,
    KeyRing,
    PrivateKey,
    SigningKey,
    generate_signing_key,
    private_key_from_pem,
    private_key_to_pem,
)


class KeyManager:
    def __init__(
        self,
        store: Store,
        encryptor: KeyEncryptor,
        alg: Algorithm,
        max_token_lifetime: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._encryptor = encryptor
        self._alg = alg
        self._max_token_lifetime = max_token_lifetime
        self._clock = clock
        self._ring: KeyRing | None = None
        self._keys: list[SigningKey] = []
        self._private: dict[str, PrivateKey] = {}
        """Unsealed private keys by kid: a kid's key never changes, and parsing one (an
        RSA key is checked as it loads) costs milliseconds on every periodic reload."""
        self._loaded_at = 0.0
        self._last_unknown_kid_reload = 0.0
        self.announce: Announce = silent
        """Tells other replicas to reload keys (Redis pub/sub; set by bootstrap)."""

    @property
    def ring(self) -> KeyRing:
        if self._ring is None:
            raise RuntimeError("KeyManager.load() has not run")
        return self._ring

    def _unseal(self, record: KeyRecord) -> SigningKey:
        alg: Algorithm = record.alg  # type: ignore[assignment]
        private_key = self._private.get(record.kid)
        if private_key is None:
            pem = self._encryptor.decrypt(record.private_key_ciphertext, record.kid.encode())
            private_key = private_key_from_pem(pem, alg)
        return SigningKey(
            kid=record.kid,
            alg=alg,
            private_key=private_key,
            created_at=record.created_at,
            retired_at=record.retired_at,
            verify_until=record.verify_until,
        )

    def _seal(self, key: SigningKey) -> KeyRecord:
        return KeyRecord(
            kid=key.kid,
            alg=key.alg,
            private_key_ciphertext=self._encryptor.encrypt(
                private_key_to_pem(key.private_key), key.kid.encode()
            ),
            created_at=key.created_at,
        )

    async def load(self) -> KeyRing:
        """Read the keys, creating the first one when there is none."""
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.keys.purge_expired(now)
            records = await tx.keys.all()
            if not any(r.retired_at is None for r in records):
                record = self._seal(generate_signing_key(self._alg, now))
                await tx.keys.add(record)
                records.append(record)
        self._keys = sorted((self._unseal(r) for r in records), key=lambda k: -k.created_at)
        self._private = {key.kid: key.private_key for key in self._keys}
        self._ring = KeyRing(self._keys)
        self._loaded_at = now
        return self._ring

    async def reload_if_older_than(self, seconds: float) -> bool:
        """Reload when the ring is older than `seconds`; True when it was reloaded."""
        if self._clock() - self._loaded_at < seconds:
            return False
        await self.load()
        return True

    async def reload_for_unknown_kid(self) -> bool:
        """Reread keys because a token named one we lack; at most once a second, so that
        tokens with made-up kids cannot turn into a database load."""
        now = self._clock()
        if now - self._last_unknown_kid_reload < 1.0:
            return False
        self._last_unknown_kid_reload = now
        await self.load()
        return True

    async def rotate(self, caller: Caller) -> SigningKey:
        """A new key signs from now on; old ones verify until their last token expires."""
        now = self._clock()
        new_key = generate_signing_key(self._alg, now)
        async with self._store.transaction() as tx:
            for record in await tx.keys.all():
                if record.retired_at is None:
                    verify_until = now + self._max_token_lifetime + 60.0
                    await tx.keys.retire(record.kid, now, verify_until)
            await tx.keys.add(self._seal(new_key))
            await audit(tx, "admin_key_rotated", caller, kid=new_key.kid, alg=new_key.alg)
        await self.load()
        self.announce("keys", new_key.kid)
        return new_key

    def list(self) -> list[SigningKey]:
        """Every stored key, newest first."""
        return list(self._keys)
