"""MFA state: TOTP factors, recovery codes and sign-in challenges waiting for a factor.

Everything that must happen once happens by a conditional update whose row count says
who won: a TOTP step moves `last_step` forward only if it is newer, a recovery code is
used only while unused, a challenge ends only while live. Two replicas racing on the same
code therefore cannot both accept it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.store.records import MfaChallengeRecord, TotpRecord
from authgate.store.tables import mfa_challenges, mfa_recovery_codes, mfa_totp


def _fields(row: Any, table: Any) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in table.columns}


class MfaRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # -- TOTP --------------------------------------------------------------------------

    async def get_totp(self, sub: str) -> TotpRecord | None:
        row = (await self._conn.execute(select(mfa_totp).where(mfa_totp.c.sub == sub))).first()
        return TotpRecord(**_fields(row, mfa_totp)) if row else None

    async def put_pending(self, sub: str, ciphertext: bytes, at: float) -> None:
        """Store a pending secret, replacing an earlier pending one (never the active one)."""
        changed = await self._conn.execute(
            update(mfa_totp)
            .where(mfa_totp.c.sub == sub)
            .values(pending_ciphertext=ciphertext, updated_at=at)
        )
        if not changed.rowcount:
            await self._conn.execute(
                insert(mfa_totp).values(
                    sub=sub,
                    secret_ciphertext=None,
                    pending_ciphertext=ciphertext,
                    last_step=-1,
                    enabled_at=None,
                    updated_at=at,
                )
            )

    async def activate_pending(
        self, sub: str, pending: bytes, ciphertext: bytes, step: int, at: float
    ) -> bool:
        """Make the pending secret the active one (re-sealed as `ciphertext`), its first
        code's step the last used; False when the pending secret changed meanwhile."""
        result = await self._conn.execute(
            update(mfa_totp)
            .where(mfa_totp.c.sub == sub, mfa_totp.c.pending_ciphertext == pending)
            .values(
                secret_ciphertext=ciphertext,
                pending_ciphertext=None,
                last_step=step,
                enabled_at=at,
                updated_at=at,
            )
        )
        return bool(result.rowcount)

    async def use_step(self, sub: str, step: int) -> bool:
        """Accept time step `step` for the user's active secret once: True only when it is
        newer than every step accepted before (a replay or an older code is refused)."""
        result = await self._conn.execute(
            update(mfa_totp)
            .where(
                mfa_totp.c.sub == sub,
                mfa_totp.c.secret_ciphertext.is_not(None),
                mfa_totp.c.last_step < step,
            )
            .values(last_step=step)
        )
        return bool(result.rowcount)

    async def delete_totp(self, sub: str) -> bool:
        result = await self._conn.execute(delete(mfa_totp).where(mfa_totp.c.sub == sub))
        await self._conn.execute(delete(mfa_recovery_codes).where(mfa_recovery_codes.c.sub == sub))
        return bool(result.rowcount)

    # -- recovery codes ----------------------------------------------------------------

    async def replace_recovery_codes(self, sub: str, hashes: list[str], at: float) -> None:
        """A new set; every earlier code, used or not, is gone."""
        await self._conn.execute(delete(mfa_recovery_codes).where(mfa_recovery_codes.c.sub == sub))
        rows = [{"sub": sub, "code_hash": h, "created_at": at, "used_at": None} for h in hashes]
        if rows:
            await self._conn.execute(insert(mfa_recovery_codes), rows)

    async def use_recovery_code(self, sub: str, code_hash: str, at: float) -> bool:
        """Spend an unused code; False when it is unknown or already spent."""
        table = mfa_recovery_codes
        result = await self._conn.execute(
            update(table)
            .where(table.c.sub == sub, table.c.code_hash == code_hash, table.c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(result.rowcount)

    async def recovery_codes_left(self, sub: str) -> int:
        table = mfa_recovery_codes
        query = select(func.count()).where(table.c.sub == sub, table.c.used_at.is_(None))
        return int((await self._conn.execute(query)).scalar_one())

    # -- challenges --------------------------------------------------------------------

    async def add_challenge(self, challenge: MfaChallengeRecord) -> None:
        await self._conn.execute(insert(mfa_challenges).values(**vars(challenge)))

    async def get_challenge(self, session_hash: str) -> MfaChallengeRecord | None:
        query = select(mfa_challenges).where(mfa_challenges.c.session_hash == session_hash)
        row = (await self._conn.execute(query.with_for_update())).first()
        return MfaChallengeRecord(**_fields(row, mfa_challenges)) if row else None

    async def end_challenge(self, session_hash: str, at: float) -> bool:
        """End a live challenge; False when it had ended already (it is spent once)."""
        table = mfa_challenges
        result = await self._conn.execute(
            update(table)
            .where(table.c.session_hash == session_hash, table.c.ended_at.is_(None))
            .values(ended_at=at)
        )
        return bool(result.rowcount)

    async def count_challenge_failure(self, session_hash: str, limit: int, at: float) -> int:
        """Count a wrong code; the challenge ends at `limit`. Returns the failures so far."""
        table = mfa_challenges
        await self._conn.execute(
            update(table)
            .where(table.c.session_hash == session_hash)
            .values(failures=table.c.failures + 1)
        )
        await self._conn.execute(
            update(table)
            .where(
                table.c.session_hash == session_hash,
                table.c.failures >= limit,
                table.c.ended_at.is_(None),
            )
            .values(ended_at=at)
        )
        query = select(table.c.failures).where(table.c.session_hash == session_hash)
        return int((await self._conn.execute(query)).scalar_one())

    async def purge_challenges(self, before: float) -> None:
        await self._conn.execute(delete(mfa_challenges).where(mfa_challenges.c.expires_at < before))
