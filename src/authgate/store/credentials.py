"""Clients, signing keys, one-time codes and refresh tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.errors import AlreadyExists
from authgate.store.records import (
    ClientRecord,
    CodeRecord,
    KeyRecord,
    Page,
    RefreshFamilyRecord,
    RefreshTokenRecord,
)
from authgate.store.tables import (
    client_assertions,
    clients,
    one_time_codes,
    refresh_families,
    refresh_tokens,
    signing_keys,
)
from authgate.store.users import decode_cursor, encode_cursor


def _client(row: Any) -> ClientRecord:
    return ClientRecord(
        client_id=row.client_id,
        client_name=row.client_name,
        secret_ciphertext=row.secret_ciphertext,
        metadata=dict(row.metadata),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ClientRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, client: ClientRecord) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(clients).values(**vars(client)))
        except IntegrityError:
            raise AlreadyExists("A client with this id already exists.") from None

    async def get(self, client_id: str) -> ClientRecord | None:
        query = select(clients).where(clients.c.client_id == client_id)
        row = (await self._conn.execute(query)).first()
        return _client(row) if row else None

    async def update(self, client: ClientRecord) -> None:
        values = {k: v for k, v in vars(client).items() if k not in ("client_id", "created_at")}
        await self._conn.execute(
            update(clients).where(clients.c.client_id == client.client_id).values(**values)
        )

    async def delete(self, client_id: str) -> bool:
        result = await self._conn.execute(delete(clients).where(clients.c.client_id == client_id))
        return bool(result.rowcount)

    async def list(self, *, cursor: str | None = None, limit: int = 50) -> Page[ClientRecord]:
        query = select(clients).order_by(clients.c.client_id).limit(limit + 1)
        after = decode_cursor(cursor)
        if after is not None:
            query = query.where(clients.c.client_id > after)
        rows = (await self._conn.execute(query)).all()
        items = [_client(row) for row in rows[:limit]]
        return Page(items, encode_cursor(items[-1].client_id) if len(rows) > limit else None)

    async def remember_assertion(
        self, client_id: str, jti: str, expires_at: float, now: float
    ) -> bool:
        """Record a client assertion's jti; False when it was already recorded (a replay,
        or the same assertion racing in on another connection: the unique key decides).
        The client's expired entries go in the same transaction."""
        await self._conn.execute(
            delete(client_assertions).where(
                client_assertions.c.client_id == client_id,
                client_assertions.c.expires_at < now,
            )
        )
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(client_assertions).values(
                        client_id=client_id, jti=jti, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True


class KeyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, key: KeyRecord) -> None:
        await self._conn.execute(insert(signing_keys).values(**vars(key)))

    async def all(self) -> list[KeyRecord]:
        rows = await self._conn.execute(select(signing_keys).order_by(signing_keys.c.created_at))
        return [
            KeyRecord(
                kid=r.kid,
                alg=r.alg,
                private_key_ciphertext=r.private_key_ciphertext,
                created_at=r.created_at,
                retired_at=r.retired_at,
                verify_until=r.verify_until,
            )
            for r in rows
        ]

    async def retire(self, kid: str, retired_at: float, verify_until: float) -> None:
        await self._conn.execute(
            update(signing_keys)
            .where(signing_keys.c.kid == kid, signing_keys.c.retired_at.is_(None))
            .values(retired_at=retired_at, verify_until=verify_until)
        )

    async def purge_expired(self, now: float) -> None:
        await self._conn.execute(
            delete(signing_keys).where(
                signing_keys.c.verify_until.is_not(None), signing_keys.c.verify_until < now
            )
        )


class CodeRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def put(self, code: CodeRecord) -> None:
        """Store a code, replacing any earlier one for the same user and purpose."""
        await self.delete(code.sub, code.purpose)
        await self._conn.execute(insert(one_time_codes).values(**vars(code)))

    async def get(self, sub: str, purpose: str) -> CodeRecord | None:
        query = select(one_time_codes).where(
            one_time_codes.c.sub == sub, one_time_codes.c.purpose == purpose
        )
        row = (await self._conn.execute(query)).first()
        if row is None:
            return None
        return CodeRecord(row.sub, row.purpose, row.code_hash, row.expires_at, row.attempts_left)

    async def spend_attempt(self, sub: str, purpose: str) -> int:
        """Count one wrong try; return the tries left (the code is deleted at zero)."""
        key = (one_time_codes.c.sub == sub, one_time_codes.c.purpose == purpose)
        await self._conn.execute(
            update(one_time_codes)
            .where(*key)
            .values(attempts_left=one_time_codes.c.attempts_left - 1)
        )
        left = (
            await self._conn.execute(select(one_time_codes.c.attempts_left).where(*key))
        ).first()
        if left is None or left[0] <= 0:
            await self.delete(sub, purpose)
            return 0
        return int(left[0])

    async def delete(self, sub: str, purpose: str) -> bool:
        result = await self._conn.execute(
            delete(one_time_codes).where(
                one_time_codes.c.sub == sub, one_time_codes.c.purpose == purpose
            )
        )
        return bool(result.rowcount)


class RefreshTokenRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_family(self, family: RefreshFamilyRecord) -> None:
        await self._conn.execute(insert(refresh_families).values(**vars(family)))

    async def add_token(self, token: RefreshTokenRecord) -> None:
        await self._conn.execute(insert(refresh_tokens).values(**vars(token)))

    async def get(self, token_hash: str) -> tuple[RefreshTokenRecord, RefreshFamilyRecord] | None:
        query = (
            select(refresh_tokens, refresh_families)
            .join(refresh_families, refresh_families.c.family_id == refresh_tokens.c.family_id)
            .where(refresh_tokens.c.token_hash == token_hash)
        )
        row = (await self._conn.execute(query)).first()
        if row is None:
            return None
        m = row._mapping
        token = RefreshTokenRecord(
            token_hash=m[refresh_tokens.c.token_hash],
            family_id=m[refresh_tokens.c.family_id],
            issued_at=m[refresh_tokens.c.issued_at],
            expires_at=m[refresh_tokens.c.expires_at],
            spent_at=m[refresh_tokens.c.spent_at],
            successor_ciphertext=m[refresh_tokens.c.successor_ciphertext],
            successor_until=m[refresh_tokens.c.successor_until],
        )
        family = RefreshFamilyRecord(
            family_id=m[refresh_families.c.family_id],
            sub=m[refresh_families.c.sub],
            client_id=m[refresh_families.c.client_id],
            scope=m[refresh_families.c.scope],
            auth_time=m[refresh_families.c.auth_time],
            created_at=m[refresh_families.c.created_at],
            revoked_at=m[refresh_families.c.revoked_at],
            amr=m[refresh_families.c.amr],
        )
        return token, family

    async def lock_live_family(self, family_id: str) -> bool:
        """Lock a family's row for this transaction; False when it is revoked (or gone).

        A rotation holds this lock, so a concurrent revocation of the family either waits
        for the rotation (and then sees the access token it issued) or wins (and the
        rotation then finds the family revoked). On SQLite, writers are serial anyway.
        """
        query = (
            select(refresh_families.c.family_id)
            .where(
                refresh_families.c.family_id == family_id, refresh_families.c.revoked_at.is_(None)
            )
            .with_for_update()
        )
        return (await self._conn.execute(query)).first() is not None

    async def seal_successor(self, token_hash: str, ciphertext: bytes, until: float) -> None:
        await self._conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash)
            .values(successor_ciphertext=ciphertext, successor_until=until)
        )

    async def sealed_successor(self, token_hash: str) -> tuple[bytes, float] | None:
        """The sealed successor of a spent token, read afresh (not from an earlier read)."""
        query = select(
            refresh_tokens.c.successor_ciphertext, refresh_tokens.c.successor_until
        ).where(
            refresh_tokens.c.token_hash == token_hash,
            refresh_tokens.c.successor_ciphertext.is_not(None),
        )
        row = (await self._conn.execute(query)).first()
        return (row[0], row[1]) if row is not None else None

    async def forget_successors(
        self, family_id: str | None = None, before: float | None = None
    ) -> None:
        """Drop sealed successors: of one family (its newest token was just spent), or
        every one whose interval ended before `before`."""
        query = update(refresh_tokens).where(refresh_tokens.c.successor_ciphertext.is_not(None))
        if family_id is not None:
            query = query.where(refresh_tokens.c.family_id == family_id)
        if before is not None:
            query = query.where(refresh_tokens.c.successor_until < before)
        await self._conn.execute(query.values(successor_ciphertext=None, successor_until=None))

    async def spend(self, token_hash: str, at: float) -> bool:
        """Mark a token spent; False when it already was (a concurrent or replayed use)."""
        result = await self._conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.spent_at.is_(None))
            .values(spent_at=at)
        )
        return bool(result.rowcount)

    async def revoke_family(self, family_id: str, at: float) -> None:
        await self.revoke_families([family_id], at)

    async def revoke_families(self, family_ids: list[str], at: float) -> None:
        """One UPDATE for all of them: a reuse can end many families at once."""
        if not family_ids:
            return
        await self._conn.execute(
            update(refresh_families)
            .where(
                refresh_families.c.family_id.in_(family_ids),
                refresh_families.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )

    async def revoke_user(self, sub: str, at: float, keep: str | None = None) -> None:
        """Revoke every live family of a user, except the family `keep`."""
        query = update(refresh_families).where(
            refresh_families.c.sub == sub, refresh_families.c.revoked_at.is_(None)
        )
        if keep is not None:
            query = query.where(refresh_families.c.family_id != keep)
        await self._conn.execute(query.values(revoked_at=at))

    async def revoke_user_client(self, sub: str, client_id: str, at: float) -> None:
        await self._conn.execute(
            update(refresh_families)
            .where(
                refresh_families.c.sub == sub,
                refresh_families.c.client_id == client_id,
                refresh_families.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )

    async def purge_expired(self, now: float) -> None:
        await self._conn.execute(delete(refresh_tokens).where(refresh_tokens.c.expires_at < now))
