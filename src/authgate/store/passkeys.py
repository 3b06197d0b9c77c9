"""Passkeys (WebAuthn credentials) and their outstanding challenges."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.errors import AlreadyExists
from authgate.store.records import PasskeyRecord, WebAuthnChallengeRecord
from authgate.store.tables import passkeys, webauthn_challenges


def _passkey(row: Any) -> PasskeyRecord:
    fields = {column.name: getattr(row, column.name) for column in passkeys.columns}
    fields["transports"] = list(fields["transports"] or [])
    fields["sign_count"] = int(fields["sign_count"])
    return PasskeyRecord(**fields)


class PasskeyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # -- credentials -------------------------------------------------------------------

    async def add(self, passkey: PasskeyRecord) -> None:
        """Store a new credential; AlreadyExists when its credential id is registered."""
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(passkeys).values(**vars(passkey)))
        except IntegrityError:
            raise AlreadyExists("This passkey is already registered.") from None

    async def of_user(self, sub: str) -> list[PasskeyRecord]:
        query = (
            select(passkeys)
            .where(passkeys.c.sub == sub)
            .order_by(passkeys.c.created_at, passkeys.c.id)
        )
        return [_passkey(row) for row in await self._conn.execute(query)]

    async def count(self, sub: str) -> int:
        query = select(func.count()).select_from(passkeys).where(passkeys.c.sub == sub)
        return int((await self._conn.execute(query)).scalar_one())

    async def get(self, sub: str, passkey_id: str) -> PasskeyRecord | None:
        """The user's passkey by id (another user's is as absent as an unknown one)."""
        query = select(passkeys).where(passkeys.c.id == passkey_id, passkeys.c.sub == sub)
        row = (await self._conn.execute(query)).first()
        return _passkey(row) if row else None

    async def by_credential_id(
        self, credential_id: str, *, lock: bool = False
    ) -> PasskeyRecord | None:
        """The passkey with this credential id; `lock` holds its row for this transaction
        (two sign-ins with one credential then see each other's counter)."""
        query = select(passkeys).where(passkeys.c.credential_id == credential_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _passkey(row) if row else None

    async def rename(self, sub: str, passkey_id: str, name: str) -> bool:
        result = await self._conn.execute(
            update(passkeys)
            .where(passkeys.c.id == passkey_id, passkeys.c.sub == sub)
            .values(name=name)
        )
        return bool(result.rowcount)

    async def record_use(
        self, passkey_id: str, sign_count: int, backed_up: bool, at: float
    ) -> None:
        await self._conn.execute(
            update(passkeys)
            .where(passkeys.c.id == passkey_id)
            .values(sign_count=sign_count, backed_up=backed_up, last_used_at=at)
        )

    async def delete(self, sub: str, passkey_id: str) -> bool:
        result = await self._conn.execute(
            delete(passkeys).where(passkeys.c.id == passkey_id, passkeys.c.sub == sub)
        )
        return bool(result.rowcount)

    # -- challenges --------------------------------------------------------------------

    async def add_challenge(self, challenge: WebAuthnChallengeRecord) -> None:
        await self._conn.execute(insert(webauthn_challenges).values(**vars(challenge)))

    async def take_challenge(self, challenge_hash: str) -> WebAuthnChallengeRecord | None:
        """Remove and return the challenge: whoever deletes the row owns it, so a
        challenge is spent once, even by two requests at the same moment."""
        table = webauthn_challenges
        row = (
            await self._conn.execute(select(table).where(table.c.challenge_hash == challenge_hash))
        ).first()
        if row is None:
            return None
        result = await self._conn.execute(
            delete(table).where(table.c.challenge_hash == challenge_hash)
        )
        if not result.rowcount:
            return None
        return WebAuthnChallengeRecord(**{c.name: getattr(row, c.name) for c in table.columns})

    async def purge_challenges(self, now: float) -> None:
        await self._conn.execute(
            delete(webauthn_challenges).where(webauthn_challenges.c.expires_at <= now)
        )
