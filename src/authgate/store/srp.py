"""SRP verifiers and Cognito sign-in sessions (SECRET_BLOCK and `Session` tokens)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.store.records import CognitoAuthSessionRecord, SrpVerifierRecord
from authgate.store.tables import cognito_auth_sessions, srp_verifiers


def _fields(row: Any, table: Any) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in table.columns}


class SrpRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # -- verifiers ---------------------------------------------------------------------

    async def get_verifier(self, sub: str) -> SrpVerifierRecord | None:
        query = select(srp_verifiers).where(srp_verifiers.c.sub == sub)
        row = (await self._conn.execute(query)).first()
        return SrpVerifierRecord(**_fields(row, srp_verifiers)) if row else None

    async def put_verifier(self, record: SrpVerifierRecord) -> None:
        """Store the user's verifier, replacing the one before."""
        values = vars(record)
        changed = await self._conn.execute(
            update(srp_verifiers).where(srp_verifiers.c.sub == record.sub).values(**values)
        )
        if not changed.rowcount:
            await self._conn.execute(insert(srp_verifiers).values(**values))

    async def delete_verifier(self, sub: str) -> None:
        await self._conn.execute(delete(srp_verifiers).where(srp_verifiers.c.sub == sub))

    # -- sign-in sessions --------------------------------------------------------------

    async def add_session(self, record: CognitoAuthSessionRecord) -> None:
        await self._conn.execute(insert(cognito_auth_sessions).values(**vars(record)))

    async def get_session(self, token_hash: str) -> CognitoAuthSessionRecord | None:
        table = cognito_auth_sessions
        row = (
            await self._conn.execute(select(table).where(table.c.token_hash == token_hash))
        ).first()
        return CognitoAuthSessionRecord(**_fields(row, table)) if row else None

    async def take_session(self, token_hash: str) -> CognitoAuthSessionRecord | None:
        """Remove and return the session: whoever deletes the row owns it, so a session is
        spent once, even by two requests at the same moment (expiry is the caller's)."""
        table = cognito_auth_sessions
        row = (
            await self._conn.execute(select(table).where(table.c.token_hash == token_hash))
        ).first()
        if row is None:
            return None
        result = await self._conn.execute(delete(table).where(table.c.token_hash == token_hash))
        if not result.rowcount:
            return None
        return CognitoAuthSessionRecord(**_fields(row, table))

    async def purge_sessions(self, now: float) -> None:
        table = cognito_auth_sessions
        await self._conn.execute(delete(table).where(table.c.expires_at <= now))
