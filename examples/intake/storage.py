"""Where uploaded images live: content-addressed by SHA-256, written while they stream in.

An upload is written to a temporary place first (its address is known only at the end),
then `commit` moves it to its address; `abort` leaves nothing behind. Two uploads of the same
content end as one object. The filesystem store and the S3 store behave alike.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from examples.intake.config import StorageSettings

READ_CHUNK = 1024 * 1024


class Upload(Protocol):
    async def write(self, chunk: bytes) -> None: ...

    async def commit(self, sha256: str) -> None:
        """Make the bytes written so far the object `sha256` (kept as is if it exists)."""

    async def abort(self) -> None: ...


class Storage(Protocol):
    async def begin(self) -> Upload: ...

    def open(self, sha256: str) -> AsyncIterator[bytes]: ...

    async def delete(self, sha256: str) -> None: ...

    async def exists(self, sha256: str) -> bool: ...


class FilesystemUpload:
    """A temporary file beside the objects, renamed to its address on commit."""

    def __init__(self, store: FilesystemStorage) -> None:
        self._store = store
        self._temp = store.root / "incoming" / f"{secrets.token_hex(16)}.part"
        self._file = self._temp.open("xb")

    async def write(self, chunk: bytes) -> None:
        await asyncio.to_thread(self._file.write, chunk)

    async def commit(self, sha256: str) -> None:
        await asyncio.to_thread(self._commit, sha256)

    def _commit(self, sha256: str) -> None:
        self._file.close()
        target = self._store.path_of(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._temp, target)

    async def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


class FilesystemStorage:
    """`<path>/objects/ab/abcdef...` (the SHA-256 in hex); temporary files in `<path>/incoming`."""

    def __init__(self, path: str) -> None:
        self.root = Path(path)
        (self.root / "incoming").mkdir(parents=True, exist_ok=True)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 in lower-case hex")
        return self.root / "objects" / sha256[:2] / sha256

    async def begin(self) -> FilesystemUpload:
        return await asyncio.to_thread(FilesystemUpload, self)

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path_of(sha256).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, sha256: str) -> None:
        self.path_of(sha256).unlink(missing_ok=True)

    async def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()


def open_storage(settings: StorageSettings) -> Storage:
    if settings.kind == "s3":
        from examples.intake.storage_s3 import S3Storage

        return S3Storage(settings)
    return FilesystemStorage(settings.path)
