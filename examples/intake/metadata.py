"""Image metadata in SQLite (the standard library's sqlite3, one connection, calls in a thread).

One row per image and owner; `(owner, sha256)` is unique, which is what makes the same upload
by the same user one image however many times (or however concurrently) it is sent.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    accept_findings INTEGER NOT NULL,
    reason TEXT,
    report TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (owner, sha256)
);
CREATE INDEX IF NOT EXISTS images_by_sha256 ON images (sha256);
"""
PENDING = ("received", "vetting")


@dataclass(frozen=True)
class Image:
    id: str
    owner: str
    sha256: str
    size: int
    status: str
    accept_findings: bool
    reason: str | None
    report: dict[str, Any] | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Image:
        report = row["report"]
        return cls(
            id=row["id"],
            owner=row["owner"],
            sha256=row["sha256"],
            size=row["size"],
            status=row["status"],
            accept_findings=bool(row["accept_findings"]),
            reason=row["reason"],
            report=json.loads(report) if report is not None else None,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "size": self.size,
            "status": self.status,
            "created_at": self.created_at,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Metadata:
    def __init__(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    async def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return await asyncio.to_thread(self._query, sql, args)

    async def usage(self, owner: str) -> tuple[int, int]:
        """(images, bytes) the owner holds now."""
        rows = await self._run(
            "SELECT count(*), coalesce(sum(size), 0) FROM images WHERE owner = ?", (owner,)
        )
        return int(rows[0][0]), int(rows[0][1])

    async def find(self, owner: str, sha256: str) -> Image | None:
        rows = await self._run(
            "SELECT * FROM images WHERE owner = ? AND sha256 = ?", (owner, sha256)
        )
        return Image.from_row(rows[0]) if rows else None

    async def add(
        self, image_id: str, owner: str, sha256: str, size: int, accept_findings: bool
    ) -> tuple[Image, bool]:
        """The new image and True, or the owner's existing one for this content and False."""
        now = _now()
        added = await self._run(
            "INSERT INTO images (id, owner, sha256, size, status, accept_findings, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, 'received', ?, ?, ?)"
            " ON CONFLICT (owner, sha256) DO NOTHING RETURNING *",
            (image_id, owner, sha256, size, int(accept_findings), now, now),
        )
        if added:
            return Image.from_row(added[0]), True
        existing = await self.find(owner, sha256)
        assert existing is not None
        return existing, False

    async def get(self, image_id: str) -> Image | None:
        rows = await self._run("SELECT * FROM images WHERE id = ?", (image_id,))
        return Image.from_row(rows[0]) if rows else None

    async def list_of(self, owner: str | None) -> list[Image]:
        if owner is None:
            rows = await self._run("SELECT * FROM images ORDER BY rowid")
        else:
            rows = await self._run("SELECT * FROM images WHERE owner = ? ORDER BY rowid", (owner,))
        return [Image.from_row(row) for row in rows]

    async def set_status(
        self,
        image_id: str,
        status: str,
        report: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        await self._run(
            "UPDATE images SET status = ?, report = ?, reason = ?, updated_at = ? WHERE id = ?",
            (status, json.dumps(report) if report is not None else None, reason, _now(), image_id),
        )

    async def remove(self, image_id: str) -> int:
        """Deletes the row; answers how many images still hold its content."""
        rows = await self._run("DELETE FROM images WHERE id = ? RETURNING sha256", (image_id,))
        if not rows:
            return -1
        left = await self._run("SELECT count(*) FROM images WHERE sha256 = ?", (rows[0][0],))
        return int(left[0][0])

    async def pending(self) -> list[Image]:
        rows = await self._run(
            "SELECT * FROM images WHERE status IN (?, ?) ORDER BY rowid", PENDING
        )
        return [Image.from_row(row) for row in rows]
