"""The client's request body on its way to the upstream: streamed chunk by chunk through
uvicorn, or for a large declared length on plain TCP, spliced socket to socket (`splice`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload
from starlette.types import Receive
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from authgate.gateway import splice
from authgate.gateway.forward_errors import BodyTooLarge


class ClientGone(Exception):
    """The client disconnected while its body was being read."""


class RequestBody:
    """The client's body as the upstream's request data: counts, enforces the limit, and
    tells whether a byte was taken (then a retry could not resend it)."""

    def __init__(
        self,
        receive: Receive,
        limit: int,
        length: int | None,
        stall_seconds: float,
    ) -> None:
        self._receive = receive
        self._limit = limit
        self._length = length
        self._stall_seconds = stall_seconds
        self.count = 0
        self.started = False
        self.too_large = False
        self.client_gone = False
        self.done = False
        self.stalled = False

    def data(self) -> AsyncIterator[bytes] | Payload:
        """What aiohttp sends: a payload that may splice when the body qualifies, else
        chunks (the upstream's connection is known only once the payload is written)."""
        if (
            self._length is not None
            and self._length >= splice.SPLICE_MIN
            and splice.client_connection(self._receive) is not None
        ):
            return _SplicingPayload(self, self._length)
        return self.chunks()

    async def chunks(self) -> AsyncIterator[bytes]:
        self.started = True
        while True:
            chunk, more = await self._next()
            if chunk:
                yield chunk
            if not more:
                return

    async def _next(self) -> tuple[bytes, bool]:
        """The next chunk from uvicorn, and whether more follow."""
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.client_gone = True
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        self.count += len(chunk)
        if self.count > self._limit:
            self.too_large = True
            raise BodyTooLarge(self._limit)
        more = bool(message.get("more_body", False))
        self.done = not more
        return chunk, more

    async def write_to(self, writer: AbstractStreamWriter) -> None:
        """Send the body into aiohttp's `writer`: the first chunk through uvicorn (which
        answers `Expect: 100-continue` there), the rest spliced if it still qualifies."""
        self.started = True
        first, more = await self._next()
        transport = writer.transport
        cycle = splice.client_connection(self._receive) if more else None
        if (
            cycle is None
            or self._length is None
            or transport is None
            or not splice.plain_tcp(transport)
        ):
            if first:
                await writer.write(first)
            if more:
                async for chunk in self.chunks():
                    await writer.write(chunk)
            return
        await self._splice(cycle, writer, transport, first, self._length)

    async def _splice(
        self,
        cycle: RequestResponseCycle,
        writer: AbstractStreamWriter,
        transport: asyncio.WriteTransport,
        first: bytes,
        length: int,
    ) -> None:
        cycle.flow.pause_reading()
        buffered = first + bytes(cycle.body)
        cycle.body = bytearray()
        self.count = len(buffered)
        if not cycle.more_body:  # the rest had arrived meanwhile
            self.done = True
            await writer.write(buffered)
            return
        cycle.keep_alive = False  # its parser is mid-body for good: answer, then close
        await writer.write(buffered)
        await _flushed(writer, transport)
        relay = splice.Relay.between(
            cycle.transport, transport, length - len(buffered), self._stall_seconds
        )
        try:
            outcome = await relay.run()
        finally:
            self.count += relay.moved
        if outcome is splice.Outcome.DONE:
            self.done = True
            return
        if outcome is splice.Outcome.CLIENT_GONE:
            self.client_gone = True
            raise ClientGone
        if outcome is splice.Outcome.UPSTREAM_STALLED:
            raise TimeoutError("the upstream stopped taking the body")
        self.stalled = outcome is splice.Outcome.CLIENT_STALLED
        raise ConnectionError(f"the body's relay ended: {outcome.value}")


async def _flushed(writer: AbstractStreamWriter, transport: asyncio.WriteTransport) -> None:
    """Wait until the transport has handed all it buffered to the kernel: the relay then
    writes to the socket itself, and nothing may come after its bytes."""
    if not transport.get_write_buffer_size():
        return
    transport.set_write_buffer_limits(high=0)  # aiohttp's drain now waits for empty
    try:
        await writer.drain()
    finally:
        transport.set_write_buffer_limits()
    if transport.get_write_buffer_size():
        raise ConnectionError("the upstream's connection did not take the body's start")


class _SplicingPayload(Payload):
    """aiohttp request data whose write is `RequestBody.write_to`."""

    _autoclose = True

    def __init__(self, body: RequestBody, length: int) -> None:
        super().__init__(None)
        self._body = body
        self._size = length

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a relayed request body is not kept")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self._body.write_to(writer)
