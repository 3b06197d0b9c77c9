"""The splice relay on real sockets (Unix stream pairs stand in for the two TCP
connections; splice treats them alike): it moves exactly the declared length, leaves what
follows unread, and every way of ending closes its descriptors."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvloop
from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.gateway.splice import Outcome, Relay, plain_tcp

KIB = 1024
MIB = 1024 * KIB


class Ends:
    """The client's and the upstream's sockets as the relay sees them (non-blocking
    duplicates it owns), and the peers a test drives."""

    def __init__(self) -> None:
        self.client, self.client_side = socket.socketpair()
        self.upstream, self.upstream_side = socket.socketpair()
        for end in (self.client_side, self.upstream_side):
            end.setblocking(False)
        self.source = os.dup(self.client_side.fileno())
        self.sink = os.dup(self.upstream_side.fileno())

    def relay(self, length: int, stall: float = 5.0) -> Relay:
        return Relay(self.source, self.sink, length, stall)

    def receive(self, count: int) -> tuple[threading.Thread, list[bytes]]:
        """A thread reading `count` bytes as the upstream, into the list it returns."""
        chunks: list[bytes] = []

        def read() -> None:
            self.upstream.settimeout(10)
            got = 0
            while got < count and (chunk := self.upstream.recv(1024 * KIB)):
                chunks.append(chunk)
                got += len(chunk)

        reader = threading.Thread(target=read)
        reader.start()
        return reader, chunks

    def unread(self) -> bytes:
        """What the client sent that is still queued on its connection."""
        self.client.shutdown(socket.SHUT_WR)
        self.client_side.setblocking(True)
        chunks = []
        while chunk := self.client_side.recv(64 * KIB):
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        for sock in (self.client, self.client_side, self.upstream, self.upstream_side):
            sock.close()

    def relay_descriptors_closed(self) -> bool:
        return all(_closed(fd) for fd in (self.source, self.sink))


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


@pytest.fixture
def ends() -> Iterator[Ends]:
    pair = Ends()
    yield pair
    pair.close()


def send_in_pieces(sock: socket.socket, data: bytes, pieces: list[int]) -> threading.Thread:
    def send() -> None:
        at = 0
        for size in pieces:
            sock.sendall(data[at : at + size])
            at += size
        sock.sendall(data[at:])

    sender = threading.Thread(target=send)
    sender.start()
    return sender


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 3 * 1024 * KIB),
    after=st.binary(max_size=4 * KIB),
    pieces=st.lists(st.integers(1, 512 * KIB), max_size=8),
)
def test_exactly_the_declared_length_moves_and_what_follows_stays_unread(
    length: int, after: bytes, pieces: list[int]
) -> None:
    ends = Ends()
    try:
        body = os.urandom(length)
        sender = send_in_pieces(ends.client, body + after, pieces)
        reader, received = ends.receive(length)
        relay = ends.relay(length)

        outcome = asyncio.run(relay.run())
        sender.join()
        reader.join()

        assert outcome is Outcome.DONE
        assert relay.moved == length
        assert ends.relay_descriptors_closed()
        assert b"".join(received) == body
        assert ends.unread() == after
    finally:
        ends.close()


def test_a_client_closing_early_is_gone_with_what_it_sent_moved(ends: Ends) -> None:
    ends.client.sendall(bytes(100 * KIB))
    ends.client.close()
    relay = ends.relay(1024 * KIB)

    assert asyncio.run(relay.run()) is Outcome.CLIENT_GONE
    assert relay.moved == 100 * KIB
    assert ends.relay_descriptors_closed()


def test_a_client_sending_nothing_stalls_after_the_limit(ends: Ends) -> None:
    ends.client.sendall(bytes(KIB))
    relay = ends.relay(1024 * KIB, stall=0.2)

    assert asyncio.run(relay.run()) is Outcome.CLIENT_STALLED
    assert relay.moved == KIB
    assert ends.relay_descriptors_closed()


def test_an_upstream_not_reading_stalls_after_the_limit(ends: Ends) -> None:
    body = 64 * 1024 * KIB
    sender = threading.Thread(target=lambda: _send_until_closed(ends.client, body), daemon=True)
    sender.start()
    relay = ends.relay(body, stall=0.3)

    assert asyncio.run(relay.run()) is Outcome.UPSTREAM_STALLED
    assert 0 < relay.moved < body
    ends.client_side.close()  # the sender's peer: its sendall fails and it ends
    sender.join(timeout=10)
    assert not sender.is_alive()


def test_an_upstream_gone_fails_the_relay(ends: Ends) -> None:
    ends.upstream.close()
    ends.upstream_side.close()
    ends.client.sendall(bytes(32 * KIB))
    relay = ends.relay(1024 * KIB)

    assert asyncio.run(relay.run()) is Outcome.UPSTREAM_FAILED
    assert ends.relay_descriptors_closed()


def test_a_cancelled_relay_reads_the_rest_of_the_body_before_closing_the_client(
    ends: Ends,
) -> None:
    length = 4 * 1024 * KIB

    async def cancel_midway() -> None:
        relay = ends.relay(length)
        ends.client_side.close()  # the relay's duplicate is then the client's last end
        running = asyncio.ensure_future(relay.run())
        ends.client.sendall(bytes(KIB))
        await asyncio.sleep(0.1)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await asyncio.get_running_loop().run_in_executor(
            None, ends.client.sendall, bytes(length - KIB)
        )
        ends.client.settimeout(5)
        assert await asyncio.get_running_loop().run_in_executor(None, ends.client.recv, 1) == b""

    asyncio.run(cancel_midway())
    assert ends.relay_descriptors_closed()


def _send_until_closed(sock: socket.socket, total: int) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(bytes(total))


def test_dropping_the_rest_of_a_body_ends_after_the_stall_limit_even_if_it_trickles(
    ends: Ends,
) -> None:
    stall = 0.5

    async def trickle_after_cancel() -> float:
        relay = ends.relay(4 * 1024 * KIB, stall=stall)
        ends.client_side.close()
        running = asyncio.ensure_future(relay.run())
        await asyncio.sleep(0.05)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for _ in range(200):  # 10 s of a byte every 50 ms, unless cut off
                ends.client.send(b"x")
                await asyncio.sleep(0.05)
        return time.monotonic() - started

    trickled = asyncio.run(trickle_after_cancel())

    assert trickled < 5
    assert ends.relay_descriptors_closed()


def test_no_relay_is_made_on_a_closing_connection() -> None:
    async def closing_pair() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        other, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        try:
            client.close()
            with pytest.raises(ConnectionError):
                Relay.between(client, other, MIB, 1.0)
            assert plain_tcp(other)
            assert not plain_tcp(client)
        finally:
            other.close()
            server.close()

    uvloop.run(closing_pair())
