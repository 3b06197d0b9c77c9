"""Receiving one upload: the body streams to storage while its SHA-256 and size are counted.

At most one block (BLOCK bytes, plus the chunk that fills it) is held in memory; nothing is
kept when the client goes away mid-body, the quota runs out, or storage fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from examples.intake.quota import Reservation
from examples.intake.storage import Storage, Upload

BLOCK = 1024 * 1024


class Truncated(Exception):
    """The body ended before its Content-Length, or was empty."""


@dataclass(frozen=True)
class Received:
    sha256: str
    size: int
    upload: Upload


async def receive(
    body: AsyncIterator[bytes],
    storage: Storage,
    reservation: Reservation,
    announced: int | None,
) -> Received:
    """The stored-but-uncommitted upload with its digest; on any failure it is aborted."""
    digest = hashlib.sha256()
    size = 0
    block = bytearray()
    upload = await storage.begin()
    try:
        async for chunk in body:
            if not chunk:
                continue
            reservation.grow(len(chunk))
            digest.update(chunk)
            size += len(chunk)
            block += chunk
            if len(block) >= BLOCK:
                await upload.write(bytes(block))
                block.clear()
        if block:
            await upload.write(bytes(block))
        if size == 0:
            raise Truncated("The body is empty: send the image tarball as the request body.")
        if announced is not None and size != announced:
            raise Truncated(f"The body ended after {size} of {announced} bytes.")
    except BaseException:
        await upload.abort()
        raise
    return Received(digest.hexdigest(), size, upload)
