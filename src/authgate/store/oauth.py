"""OAuth state: authorization codes, consents, browser sessions, revoked and opaque tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.store.records import (
    AuthorizationCodeRecord,
    BrowserSessionRecord,
    ConsentRecord,
    IssuedAccessRecord,
    OpaqueTokenRecord,
)
from authgate.store.tables import (
    authorization_codes,
    browser_sessions,
    consents,
    issued_access_tokens,
    opaque_tokens,
    revoked_tokens,
)


def _fields(row: Any, table: Any) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in table.columns}


class OAuthRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # -- authorization codes -----------------------------------------------------------

    async def add_code(self, code: AuthorizationCodeRecord) -> None:
        await self._conn.execute(insert(authorization_codes).values(**vars(code)))

    async def get_code(self, code_hash: str) -> AuthorizationCodeRecord | None:
        query = select(authorization_codes).where(authorization_codes.c.code_hash == code_hash)
        row = (await self._conn.execute(query)).first()
        return AuthorizationCodeRecord(**_fields(row, authorization_codes)) if row else None

    async def use_code(self, code_hash: str, at: float) -> bool:
        """Mark a code used; False when it already was (a replay, or a concurrent use)."""
        result = await self._conn.execute(
            update(authorization_codes)
            .where(
                authorization_codes.c.code_hash == code_hash,
                authorization_codes.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
        return bool(result.rowcount)

    async def record_code_issue(
        self, code_hash: str, family_id: str | None, access_jti: str, access_expires_at: float
    ) -> None:
        """Remember what a code was exchanged for, so a replay can revoke it."""
        await self._conn.execute(
            update(authorization_codes)
            .where(authorization_codes.c.code_hash == code_hash)
            .values(family_id=family_id, access_jti=access_jti, access_expires_at=access_expires_at)
        )

    async def purge_codes(self, before: float) -> None:
        await self._conn.execute(
            delete(authorization_codes).where(authorization_codes.c.expires_at < before)
        )

    # -- consents ----------------------------------------------------------------------

    async def get_consent(self, sub: str, client_id: str) -> ConsentRecord | None:
        query = select(consents).where(consents.c.sub == sub, consents.c.client_id == client_id)
        row = (await self._conn.execute(query)).first()
        return ConsentRecord(**_fields(row, consents)) if row else None

    async def put_consent(self, consent: ConsentRecord) -> None:
        await self.delete_consent(consent.sub, consent.client_id)
        await self._conn.execute(insert(consents).values(**vars(consent)))

    async def delete_consent(self, sub: str, client_id: str) -> bool:
        result = await self._conn.execute(
            delete(consents).where(consents.c.sub == sub, consents.c.client_id == client_id)
        )
        return bool(result.rowcount)

    async def list_consents(self, sub: str) -> list[ConsentRecord]:
        query = select(consents).where(consents.c.sub == sub).order_by(consents.c.client_id)
        return [ConsentRecord(**_fields(r, consents)) for r in await self._conn.execute(query)]

    # -- browser sessions --------------------------------------------------------------

    async def add_session(self, session: BrowserSessionRecord) -> None:
        await self._conn.execute(insert(browser_sessions).values(**vars(session)))

    async def get_session(self, session_hash: str) -> BrowserSessionRecord | None:
        query = select(browser_sessions).where(browser_sessions.c.session_hash == session_hash)
        row = (await self._conn.execute(query)).first()
        return BrowserSessionRecord(**_fields(row, browser_sessions)) if row else None

    async def revoke_session(self, session_hash: str, at: float) -> None:
        await self._conn.execute(
            update(browser_sessions)
            .where(browser_sessions.c.session_hash == session_hash)
            .values(revoked_at=at)
        )

    async def revoke_user_sessions(self, sub: str, at: float) -> None:
        await self._conn.execute(
            update(browser_sessions)
            .where(browser_sessions.c.sub == sub, browser_sessions.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    # -- revoked JWTs (deny list until they expire) ------------------------------------

    async def revoke_jti(self, jti: str, at: float, expires_at: float) -> None:
        exists = select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
        if (await self._conn.execute(exists)).first() is not None:
            return
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(revoked_tokens).values(jti=jti, revoked_at=at, expires_at=expires_at)
                )
        except IntegrityError:
            pass  # revoked concurrently: it is on the list, as asked

    async def revoke_jtis(self, entries: list[tuple[str, float]], at: float) -> None:
        """Put many (jti, expires_at) on the list at once; those already there stay as they are."""
        if not entries:
            return
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        rows = [{"jti": jti, "revoked_at": at, "expires_at": exp} for jti, exp in entries]
        statement = dialect.insert(revoked_tokens).on_conflict_do_nothing(index_elements=["jti"])
        await self._conn.execute(statement, rows)

    async def revoked_since(self, since: float, now: float) -> list[tuple[str, float, float]]:
        """(jti, revoked_at, expires_at) of live revocations made at or after `since`."""
        query = select(revoked_tokens).where(
            revoked_tokens.c.revoked_at >= since, revoked_tokens.c.expires_at > now
        )
        return [(r.jti, r.revoked_at, r.expires_at) for r in await self._conn.execute(query)]

    async def is_revoked(self, jti: str) -> bool:
        query = select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
        return (await self._conn.execute(query)).first() is not None

    async def purge_revoked(self, now: float, limit: int) -> int:
        """Forget up to `limit` revocations of tokens expired before `now`; how many went."""
        victims = select(revoked_tokens.c.jti).where(revoked_tokens.c.expires_at < now)
        query = delete(revoked_tokens).where(
            revoked_tokens.c.jti.in_(victims.limit(limit).scalar_subquery())
        )
        return int((await self._conn.execute(query)).rowcount)

    # -- access tokens issued to users, per refresh family --------------------------------

    async def add_issued(self, issued: IssuedAccessRecord) -> None:
        await self._conn.execute(insert(issued_access_tokens).values(**vars(issued)))

    async def get_issued(self, jti: str) -> IssuedAccessRecord | None:
        query = select(issued_access_tokens).where(issued_access_tokens.c.jti == jti)
        row = (await self._conn.execute(query)).first()
        return IssuedAccessRecord(**_fields(row, issued_access_tokens)) if row else None

    async def live_issued(
        self,
        now: float,
        *,
        families: list[str] | None = None,
        sub: str | None = None,
        client_id: str | None = None,
        keep_family: str | None = None,
        keep_jti: str | None = None,
    ) -> list[tuple[str, float]]:
        """(jti, expires_at) of unexpired access tokens issued from `families`, or to
        `sub` (for `client_id`), leaving out the family `keep_family` and `keep_jti`."""
        table = issued_access_tokens
        query = select(table.c.jti, table.c.expires_at).where(table.c.expires_at > now)
        if families is not None:
            query = query.where(table.c.family_id.in_(families))
        if sub is not None:
            query = query.where(table.c.sub == sub)
        if client_id is not None:
            query = query.where(table.c.client_id == client_id)
        if keep_family is not None:
            query = query.where(or_(table.c.family_id.is_(None), table.c.family_id != keep_family))
        if keep_jti is not None:
            query = query.where(table.c.jti != keep_jti)
        return [(r.jti, r.expires_at) for r in await self._conn.execute(query)]

    async def purge_issued(self, before: float, limit: int) -> int:
        """Forget up to `limit` issued tokens expired before `before`; how many went."""
        table = issued_access_tokens
        victims = select(table.c.jti).where(table.c.expires_at < before).limit(limit)
        query = delete(table).where(table.c.jti.in_(victims.scalar_subquery()))
        return int((await self._conn.execute(query)).rowcount)

    # -- opaque access tokens ----------------------------------------------------------

    async def add_opaque(self, token: OpaqueTokenRecord) -> None:
        await self._conn.execute(insert(opaque_tokens).values(**vars(token)))

    async def get_opaque(self, token_hash: str) -> OpaqueTokenRecord | None:
        query = select(opaque_tokens).where(opaque_tokens.c.token_hash == token_hash)
        row = (await self._conn.execute(query)).first()
        return OpaqueTokenRecord(**_fields(row, opaque_tokens)) if row else None

    async def revoke_opaque(self, token_hash: str, at: float) -> None:
        await self._conn.execute(
            update(opaque_tokens)
            .where(opaque_tokens.c.token_hash == token_hash, opaque_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def purge_opaque(self, now: float) -> None:
        await self._conn.execute(delete(opaque_tokens).where(opaque_tokens.c.expires_at < now))
