"""Policy documents, stored as the JSON text they were given, and their version counter.

The store knows nothing of what a policy means: it keeps each document as a JSON object
keyed by its id. Every change also bumps the one-row `policy_version` counter in the same
transaction; replicas poll that counter to learn, with one cheap read, that their compiled
policies are stale. The bump is an UPDATE of one row, so on PostgreSQL it also queues
concurrent policy writers behind each other (SQLite has one writer anyway).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.store.tables import policies, policy_version

VERSION_ROW = 1
_CHUNK = 500  # ids per IN (...) list: well under every backend's bound on parameters


@dataclass
class PolicyRecord:
    id: str
    document: dict[str, Any]
    created_at: float
    updated_at: float


def _record(row: Any) -> PolicyRecord:
    return PolicyRecord(
        id=row.id,
        document=json.loads(row.document),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def document_text(document: dict[str, Any]) -> str:
    """The text a document is stored as: what `texts` gives back for it, byte for byte."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


class PolicyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def version(self) -> int:
        query = select(policy_version.c.version).where(policy_version.c.id == VERSION_ROW)
        found = (await self._conn.execute(query)).scalar()
        return int(found) if found is not None else 0

    async def bump_version(self) -> int:
        """Call first in every writing transaction: it marks the change and takes the lock.
        The version this transaction's change will have once committed."""
        result = await self._conn.execute(
            update(policy_version)
            .where(policy_version.c.id == VERSION_ROW)
            .values(version=policy_version.c.version + 1)
        )
        if not result.rowcount:  # the row was removed by hand: start counting again
            await self._conn.execute(insert(policy_version).values(id=VERSION_ROW, version=1))
        return await self.version()

    async def list(self) -> list[PolicyRecord]:
        query = select(policies).order_by(policies.c.id)
        return [_record(row) for row in await self._conn.execute(query)]

    async def texts(self) -> dict[str, str]:
        """Every document's stored text by id, unparsed: cheap to compare with a copy."""
        query = select(policies.c.id, policies.c.document)
        return {row.id: row.document for row in await self._conn.execute(query)}

    async def get(self, policy_id: str) -> PolicyRecord | None:
        row = (await self._conn.execute(select(policies).where(policies.c.id == policy_id))).first()
        return _record(row) if row else None

    async def add(self, policy_id: str, document: dict[str, Any], at: float) -> bool:
        """Insert a new policy; False (and nothing written) when the id is taken."""
        if await self.get(policy_id) is not None:
            return False
        await self._conn.execute(
            insert(policies).values(
                id=policy_id, document=document_text(document), created_at=at, updated_at=at
            )
        )
        return True

    async def put(self, policy_id: str, document: dict[str, Any], at: float) -> bool:
        """Create or replace; True when it was created."""
        if await self.add(policy_id, document, at):
            return True
        await self._conn.execute(
            update(policies)
            .where(policies.c.id == policy_id)
            .values(document=document_text(document), updated_at=at)
        )
        return False

    async def put_many(self, documents: Sequence[tuple[str, dict[str, Any]]], at: float) -> None:
        """Create or replace many at once, keeping the creation time of those replaced."""
        ids = [policy_id for policy_id, _ in documents]
        created: dict[str, float] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = select(policies.c.id, policies.c.created_at).where(policies.c.id.in_(chunk))
            created.update({row.id: row.created_at for row in await self._conn.execute(query)})
            await self._conn.execute(delete(policies).where(policies.c.id.in_(chunk)))
        if not documents:
            return
        rows = [
            {
                "id": policy_id,
                "document": document_text(document),
                "created_at": created.get(policy_id, at),
                "updated_at": at,
            }
            for policy_id, document in documents
        ]
        await self._conn.execute(insert(policies), rows)

    async def delete(self, policy_id: str) -> bool:
        result = await self._conn.execute(delete(policies).where(policies.c.id == policy_id))
        return bool(result.rowcount)
