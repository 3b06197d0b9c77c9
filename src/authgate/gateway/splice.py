"""Zero-copy relay of a large request body from the client's socket to the upstream's.

Streamed through Python, each uploaded byte is copied five times in the gate: from the
kernel into the event loop's bytes, into the HTTP parser's, into uvicorn's body buffer and
out of it, and back into the kernel. For a big upload that is about a third of what the
service behind spends storing it. Linux's splice(2) moves the bytes from one TCP socket to
the other through a pipe without them reaching user space. No library does this between
asyncio transports, hence this module.

It is used only when every condition holds; otherwise the body streams as before:
- the client's connection is plain TCP served by uvicorn's httptools protocol on uvloop,
  and so is the upstream's (TLS must be decrypted in user space);
- the body's length is declared (Content-Length) and at least SPLICE_MIN. That length was
  already held against the route's `max_body`, and exactly that many bytes are moved.

The relay reaches into uvicorn's request cycle (its transport, flow control, body buffer
and keep-alive) and aiohttp's stream writer (its transport); `client_connection` and
`plain_tcp` check them before any use. It works on duplicates of both sockets' descriptors,
so a connection the event loop closes meanwhile cannot hand its number to another one under
the relay. The client's connection is closed after the answer: its HTTP parser never saw
the spliced bytes and could not find the next request on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import fcntl
import os

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
from uvloop.loop import TCPTransport  # type: ignore[attr-defined]

SPLICE_MIN = 1024 * 1024
"""Shorter bodies stream: they keep their connection open for the next request."""
PIPE_SIZE = 1024 * 1024
AVAILABLE = hasattr(os, "splice") and hasattr(fcntl, "F_SETPIPE_SZ")
"""splice(2) is Linux's: elsewhere every body streams."""
_MOVE = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


class Outcome(enum.Enum):
    """How a relay ended."""

    DONE = "done"
    CLIENT_GONE = "client_gone"
    UPSTREAM_FAILED = "upstream_failed"
    CLIENT_STALLED = "client_stalled"
    UPSTREAM_STALLED = "upstream_stalled"


_CLIENT_DONE = frozenset({Outcome.DONE, Outcome.CLIENT_GONE, Outcome.CLIENT_STALLED})
"""Outcomes after which the client sends no more of its body. After any other, or when the
relay is cancelled (aiohttp cancels it once the upstream's answer is released), the rest
is read and dropped before the socket closes: the client, still sending, would otherwise
be reset before it could read the answer."""


def client_connection(receive: object) -> RequestResponseCycle | None:
    """uvicorn's request cycle behind `receive`, if the body may be spliced off its socket."""
    cycle = getattr(receive, "__self__", None)
    if not AVAILABLE or type(cycle) is not RequestResponseCycle or not plain_tcp(cycle.transport):
        return None
    return cycle if cycle.more_body else None


def plain_tcp(transport: asyncio.BaseTransport) -> bool:
    """Whether `transport` is uvloop's own TCP transport, open, without TLS."""
    return (
        type(transport) is TCPTransport
        and not transport.is_closing()
        and transport.get_extra_info("ssl_object") is None
    )


class Relay:
    """Moves `length` bytes from `source` to `sink`, descriptors this relay owns and closes.
    `moved` counts what reached the upstream's socket.

    It runs on the event loop: both descriptors are non-blocking and each splice moves
    page references, not bytes, so a call is short, and it yields after each pipeful. It
    waits with add_reader/add_writer on its own duplicates, which do not conflict with the
    transports' descriptors.
    """

    def __init__(
        self, source: int, sink: int, length: int, stall_seconds: float, linger: bool = True
    ) -> None:
        self.source = source
        self.sink = sink
        self.left = length
        self.moved = 0
        self._stall_seconds = stall_seconds
        self._linger = linger

    @classmethod
    def between(
        cls,
        client: asyncio.BaseTransport,
        upstream: asyncio.BaseTransport,
        length: int,
        stall_seconds: float,
    ) -> Relay:
        """A relay on duplicates of the two transports' sockets. A closing transport may
        have let its descriptor's number go to another connection: refused, and no await
        comes between this check and the duplicates."""
        if client.is_closing() or upstream.is_closing():
            raise ConnectionError("a connection closed before its body could be relayed")
        source = os.dup(client.get_extra_info("socket").fileno())
        try:
            sink = os.dup(upstream.get_extra_info("socket").fileno())
        except BaseException:
            os.close(source)
            raise
        return cls(source, sink, length, stall_seconds)

    async def run(self) -> Outcome:
        try:
            pipe_out, pipe_in = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        except BaseException:
            self._close()
            raise
        outcome: Outcome | None = None
        try:
            with contextlib.suppress(OSError):  # over the user's allowance: the default works
                fcntl.fcntl(pipe_in, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            outcome = await self._move(pipe_in, pipe_out)
            return outcome
        finally:
            os.close(pipe_out)
            os.close(pipe_in)
            os.close(self.sink)
            if self._linger and outcome not in _CLIENT_DONE and self.left:
                _linger(self.source, self.left, self._stall_seconds)
            else:
                os.close(self.source)

    def _close(self) -> None:
        os.close(self.source)
        os.close(self.sink)

    async def _move(self, pipe_in: int, pipe_out: int) -> Outcome:
        """Fill the pipe from the client, empty it into the upstream, until all is moved."""
        while self.left:
            try:
                taken = os.splice(self.source, pipe_in, min(self.left, PIPE_SIZE), flags=_MOVE)
            except BlockingIOError:
                if not await self._ready(self.source, writing=False):
                    return Outcome.CLIENT_STALLED
                continue
            except OSError:
                return Outcome.CLIENT_GONE
            if taken == 0:
                return Outcome.CLIENT_GONE
            self.left -= taken
            while taken:
                try:
                    given = os.splice(pipe_out, self.sink, taken, flags=_MOVE)
                except BlockingIOError:
                    if not await self._ready(self.sink, writing=True):
                        return Outcome.UPSTREAM_STALLED
                    continue
                except OSError:
                    return Outcome.UPSTREAM_FAILED
                taken -= given
                self.moved += given
            await asyncio.sleep(0)  # sockets always ready would otherwise hold the loop
        return Outcome.DONE

    async def _ready(self, fd: int, writing: bool) -> bool:
        """Whether `fd` became ready (or in error: the next splice says which) before the
        stall limit."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        if writing:
            loop.add_writer(fd, _wake, waiter)
        else:
            loop.add_reader(fd, _wake, waiter)
        try:
            async with asyncio.timeout(self._stall_seconds):
                await waiter
        except TimeoutError:
            return False
        finally:
            if writing:
                loop.remove_writer(fd)
            else:
                loop.remove_reader(fd)
        return True


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_LINGERING: set[asyncio.Task[None]] = set()
"""Discards still running; held here so that the event loop does not drop them."""


def _linger(source: int, left: int, stall_seconds: float) -> None:
    task = asyncio.get_running_loop().create_task(_discard(source, left, stall_seconds))
    _LINGERING.add(task)
    task.add_done_callback(_LINGERING.discard)


async def _discard(source: int, left: int, stall_seconds: float) -> None:
    """Read and drop up to `left` more bytes of the client's body, for `stall_seconds` at
    most in all (a client trickling bytes cannot keep it going), then close `source`."""
    try:
        sink = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except BaseException:
        os.close(source)
        raise
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(stall_seconds):
            await Relay(source, sink, left, stall_seconds, linger=False).run()
