"""Byte streams: hashing what passes, and decompressing a layer chosen by its magic bytes.

Each decompressor hands out at most the size asked for per read (zlib's `max_length`, zstd's
stream reader), and charges every byte it produces to the pass's Budget *before* anyone keeps
it — so a decompression bomb stops at the limit having cost one small buffer.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import IO, Protocol, cast

import zstandard

from examples.intake.vetting.limits import Budget, Rejected

CHUNK = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
OTHER_MAGICS = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}
ZSTD_MAX_WINDOW = 1 << 27
"""libzstd's own default ceiling on a frame's window (memory), stated so it cannot drift."""


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class HashingReader:
    """Counts and SHA-256-hashes every byte read through it (a blob's digest, a diff_id)."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._sha = hashlib.sha256()
        self.size = 0

    def read(self, size: int = CHUNK, /) -> bytes:
        data = self._raw.read(size)
        self._sha.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._sha.hexdigest()


class PeekedReader:
    """A reader with its first bytes read ahead, to choose a decompressor by magic number."""

    def __init__(self, raw: Readable, size: int = 8) -> None:
        self._raw = raw
        head = b""
        while len(head) < size and (more := raw.read(size - len(head))):
            head += more
        self.head = head
        self._pending = head

    def read(self, size: int = CHUNK, /) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return self._raw.read(size)


class CountingReader:
    """A plain (uncompressed) stream: its bytes are charged to the budget all the same."""

    def __init__(self, raw: Readable, budget: Budget) -> None:
        self._raw = raw
        self._budget = budget

    def read(self, size: int = CHUNK, /) -> bytes:
        data = self._raw.read(size)
        self._budget.spend(len(data))
        return data


class GzipReader:
    """Streaming gzip (several members in a row allowed), output bounded per read."""

    def __init__(self, raw: Readable, budget: Budget, where: str) -> None:
        self._raw = raw
        self._budget = budget
        self._where = where
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._tail = b""
        self._started = False
        self._eof = False

    def read(self, size: int = CHUNK, /) -> bytes:
        size = CHUNK if size is None or size < 0 else max(size, 1)
        while not self._eof:
            if not self._tail:
                self._tail = self._raw.read(CHUNK)
                if not self._tail:
                    if self._started:
                        raise Rejected(f"{self._where}: truncated gzip data")
                    self._eof = True
                    break
            self._started = True
            try:
                data = self._z.decompress(self._tail, size)
            except zlib.error as exc:
                raise Rejected(f"{self._where}: corrupt gzip data ({exc})") from None
            self._tail = self._z.unconsumed_tail
            if self._z.eof:
                self._next_member(self._z.unused_data)
            if data:
                self._budget.spend(len(data))
                return data
        return b""

    def _next_member(self, leftover: bytes) -> None:
        """After one gzip member: another one, or the end (trailing zeros are padding)."""
        if not leftover:
            leftover = self._raw.read(CHUNK)
        if leftover.startswith(GZIP_MAGIC[:1]) and len(leftover) == 1:
            leftover += self._raw.read(CHUNK)
        if leftover.startswith(GZIP_MAGIC):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._tail = leftover
            self._started = False
        else:
            self._tail = b""
            self._eof = True


class ZstdReader:
    """Streaming zstd across frames, output bounded per read."""

    def __init__(self, raw: Readable, budget: Budget, where: str) -> None:
        decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._reader = decompressor.stream_reader(
            cast(IO[bytes], raw), read_size=CHUNK, read_across_frames=True
        )
        self._budget = budget
        self._where = where

    def read(self, size: int = CHUNK, /) -> bytes:
        size = CHUNK if size is None or size < 0 else max(size, 1)
        try:
            data = self._reader.read(size)
        except zstandard.ZstdError as exc:
            raise Rejected(f"{self._where}: corrupt zstd data ({exc})") from None
        self._budget.spend(len(data))
        return data


def compression_of(head: bytes) -> str:
    """`gzip`, `zstd` or `tar` (anything else is tried as a plain tar and fails there)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    for magic, name in OTHER_MAGICS.items():
        if head.startswith(magic):
            return name
    return "tar"


def decompressed(raw: Readable, budget: Budget, where: str) -> tuple[str, Readable]:
    """The stream's compression (by magic bytes) and a reader of its decompressed bytes."""
    peeked = PeekedReader(raw)
    kind = compression_of(peeked.head)
    if kind == "gzip":
        return kind, GzipReader(peeked, budget, where)
    if kind == "zstd":
        return kind, ZstdReader(peeked, budget, where)
    if kind == "tar":
        return kind, CountingReader(peeked, budget)
    raise Rejected(f"{where}: {kind} compression is not supported (gzip, zstd or plain tar)")
