"""Identities at external OpenID Providers and the sign-ins there in progress."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.errors import AlreadyExists
from authgate.store.records import FederatedIdentityRecord, FederationTransactionRecord
from authgate.store.tables import federated_identities, federation_transactions, passkeys, users


def _fields(row: Any, table: Any) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in table.columns}


class FederationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # -- links -------------------------------------------------------------------------

    async def add_link(self, record: FederatedIdentityRecord) -> None:
        """AlreadyExists when the identity or the user's link to this provider exists."""
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(federated_identities).values(**vars(record)))
        except IntegrityError:
            raise AlreadyExists("This identity is linked already.") from None

    async def link_of(self, provider: str, subject: str) -> FederatedIdentityRecord | None:
        table = federated_identities
        query = select(table).where(table.c.provider == provider, table.c.subject == subject)
        row = (await self._conn.execute(query)).first()
        return FederatedIdentityRecord(**_fields(row, table)) if row else None

    async def links_of(self, sub: str) -> list[FederatedIdentityRecord]:
        table = federated_identities
        query = select(table).where(table.c.sub == sub).order_by(table.c.provider)
        rows = (await self._conn.execute(query)).all()
        return [FederatedIdentityRecord(**_fields(row, table)) for row in rows]

    async def remove_link(self, sub: str, provider: str) -> bool:
        table = federated_identities
        result = await self._conn.execute(
            delete(table).where(table.c.sub == sub, table.c.provider == provider)
        )
        return bool(result.rowcount)

    async def subs_with_email(self, email: str, limit: int = 2) -> list[str]:
        """Users whose (lower-cased) email is `email`; at most `limit` of them."""
        query = select(users.c.sub).where(users.c.email == email).limit(limit)
        return [row.sub for row in (await self._conn.execute(query)).all()]

    async def passkey_count(self, sub: str) -> int:
        query = select(func.count()).select_from(passkeys).where(passkeys.c.sub == sub)
        return int((await self._conn.execute(query)).scalar_one())

    # -- sign-ins in progress ----------------------------------------------------------

    async def add_transaction(self, record: FederationTransactionRecord) -> None:
        await self._conn.execute(insert(federation_transactions).values(**vars(record)))

    async def take_transaction(
        self, state_hash: str, binding_hash: str
    ) -> FederationTransactionRecord | None:
        """Remove and return it, if `binding_hash` is its browser's: whoever deletes the row
        owns it, so it is spent once (and another browser cannot spend it)."""
        table = federation_transactions
        mine = (table.c.state_hash == state_hash) & (table.c.binding_hash == binding_hash)
        row = (await self._conn.execute(select(table).where(mine))).first()
        if row is None:
            return None
        result = await self._conn.execute(delete(table).where(mine))
        if not result.rowcount:
            return None
        return FederationTransactionRecord(**_fields(row, table))

    async def purge_transactions(self, now: float) -> None:
        table = federation_transactions
        await self._conn.execute(delete(table).where(table.c.expires_at <= now))
