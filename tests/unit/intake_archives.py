"""Crafting image archives for the intake vetting tests, whole or as lazy streams.

The streamed ones (a 10 GiB gzip bomb, a layer of a million entries) are never built whole:
`repeated_gzip` emits one deflate block per repeated chunk, computed once (a full flush makes
every block of the same input identical), so its size is known up front and its bytes cost
nothing to produce, and the upload is generated as the vetting reads it.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass

import zstandard
from examples.intake.make_images import EPOCH, Image, _json
from examples.intake.vetting import VetLimits, VetResult, vet

CHUNK = 64 * 1024


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


@dataclass
class Source:
    """An upload the vetting reads through `open_blob`, counting what it actually pulled."""

    chunks: Callable[[], Iterable[bytes]]
    pulled: int = 0
    opened: int = 0

    def open_blob(self) -> AsyncIterator[bytes]:
        self.opened += 1
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        """Chunks of at least CHUNK bytes, as storage would hand them out."""
        pending = b""
        for chunk in self.chunks():
            pending += chunk
            if len(pending) >= CHUNK:
                self.pulled += len(pending)
                yield pending
                pending = b""
        if pending:
            self.pulled += len(pending)
            yield pending


def source_of(data: bytes) -> Source:
    return Source(lambda: (data[i : i + CHUNK] for i in range(0, len(data), CHUNK)))


async def verdict(
    data: bytes | Source, *, accept_findings: bool = False, **limits: int
) -> VetResult:
    source = data if isinstance(data, Source) else source_of(data)
    return await vet(source.open_blob, accept_findings=accept_findings, limits=VetLimits(**limits))


def found(result: VetResult) -> set[tuple[str, str]]:
    """(severity, kind) of every finding."""
    return {(f["severity"], f["kind"]) for f in result.report["findings"]}


@dataclass(frozen=True)
class RepeatedGzip:
    """A single-member gzip of `head + chunk * count + tail`, streamed; `size` known first."""

    chunk: bytes
    count: int
    tail: bytes = b""
    head: bytes = b""

    def _parts(self) -> tuple[bytes, bytes, bytes]:
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = deflate.compress(self.head) + deflate.flush(zlib.Z_FULL_FLUSH)
        block = deflate.compress(self.chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
        end = deflate.compress(self.tail) + deflate.flush()
        return head, block, end

    @property
    def size(self) -> int:
        head, block, end = self._parts()
        return 10 + len(head) + len(block) * self.count + len(end) + 8

    def stream(self) -> Iterator[bytes]:
        head, block, end = self._parts()
        yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head
        for _ in range(self.count):
            yield block
        crc = crc32_repeat(zlib.crc32(self.chunk), len(self.chunk), self.count)
        crc = crc32_combine(zlib.crc32(self.head), crc, len(self.chunk) * self.count)
        crc = crc32_combine(crc, zlib.crc32(self.tail), len(self.tail))
        total = len(self.head) + len(self.chunk) * self.count + len(self.tail)
        length = total & 0xFFFFFFFF
        yield end + struct.pack("<II", crc, length)


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from those of A and B (zlib's crc32_combine, which Python lacks), so
    the CRC of 10 GiB of zeros costs no pass over them."""
    if len2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while len2:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
    return crc1 ^ crc2


def crc32_repeat(crc: int, length: int, count: int) -> int:
    """CRC-32 of a block of `length` bytes (CRC `crc`) repeated `count` times."""
    total = 0
    while count:
        if count & 1:
            total = crc32_combine(total, crc, length)
        crc, length = crc32_combine(crc, crc, length), length * 2
        count >>= 1
    return total


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, EPOCH, 0o644
    return info.tobuf(tarfile.PAX_FORMAT)


def _member(name: str, data: bytes) -> bytes:
    return _header(name, len(data)) + data + b"\0" * (-len(data) % 512)


def streamed_docker_save(layer: RepeatedGzip, diff_id: str = "sha256:" + "0" * 64) -> Source:
    """A `docker save` archive whose one layer is streamed (documents first, layer last)."""
    image = Image([b""], [diff_id])
    config = _json(image.config())
    manifest = _json([{"Config": "config.json", "RepoTags": ["big:1"], "Layers": ["l/layer.tar"]}])

    def chunks() -> Iterator[bytes]:
        yield _member("manifest.json", manifest) + _member("config.json", config)
        yield _header("l/layer.tar", layer.size)
        yield from layer.stream()
        yield b"\0" * (-layer.size % 512) + b"\0" * 1024

    return Source(chunks)


def entries_chunk(count: int) -> bytes:
    """`count` empty files' headers (a layer of many entries is this, repeated)."""
    out = io.BytesIO()
    for i in range(count):
        out.write(_header(f"f{i}", 0))
    return out.getvalue()


def zeros_bomb(gib: int = 10) -> RepeatedGzip:
    return RepeatedGzip(b"\0" * (1 << 20), gib * 1024)


def upload_bomb(gib: int = 10) -> Source:
    """An upload gzipped as a whole: a tar whose one member is `gib` GiB of zeros."""
    header = _header("junk", gib << 30)
    bomb = RepeatedGzip(b"\0" * (1 << 20), gib * 1024, tail=b"\0" * 1024, head=header)
    return Source(bomb.stream)


def tar_of(files: dict[str, bytes]) -> bytes:
    """A plain tar of regular files (not an image)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
