"""Large request bodies with a declared length cross the gate socket to socket (splice):
byte-exact, exactly the declared length and nothing after it, the client's connection
closed after the answer, and every way a body can end badly ends the relay.

One SQLite server: the database plays no part in relaying a body."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import AuthgateServer
from tests.integration.proxy_support import route
from tests.integration.upstream_app import Upstream

MIB = 1024 * 1024
STALL = "1s"


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthgateServer]:
    upstream = Upstream(tmp_path_factory.mktemp("upstream"), "splice").start()
    workdir = tmp_path_factory.mktemp("authgate")
    config = {
        "upstreams": {"main": {"targets": [upstream.url], "timeouts": {"read": STALL}}},
        "routes": [route("main", "/**", "main", max_body="64MiB")],
    }
    server = AuthgateServer(
        workdir, f"sqlite+aiosqlite:///{workdir / 'authgate.db'}", {"gateway": config}
    )
    server.start()
    yield server
    server.stop()
    upstream.stop()


class RawAnswer:
    """An HTTP/1.1 answer read off a socket, and whether the server closed after it."""

    def __init__(self, raw: socket.socket) -> None:
        reader = raw.makefile("rb")
        status_line = reader.readline()
        self.status = int(status_line.split()[1])
        self.headers: dict[str, str] = {}
        while (line := reader.readline().decode("latin-1").strip()) != "":
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.body = reader.read(int(self.headers.get("content-length", "0")))
        raw.settimeout(5)
        self.closed_after = reader.read(1) == b""

    def json(self) -> Any:
        return json.loads(self.body)


def head(path: str, length: int, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(gate: AuthgateServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gate.public_port), timeout=30)


def access_line(gate: AuthgateServer, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The latest access line `wanted` accepts, waited for up to 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [record for record in gate.access_records() if wanted(record)]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError("no such access line")


def test_a_large_body_arrives_byte_exact_and_the_connection_closes_after_the_answer(
    gate: AuthgateServer,
) -> None:
    body = os.urandom(8 * MIB + 12345)

    answer = httpx.post(f"{gate.public}/upload", content=body, timeout=60)

    assert answer.status_code == 200
    assert answer.json()["bytes"] == len(body)
    assert answer.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert answer.headers["connection"] == "close"


def test_a_body_under_the_splice_size_streams_and_the_connection_stays_open(
    gate: AuthgateServer,
) -> None:
    body = os.urandom(512 * 1024)

    answer = httpx.post(f"{gate.public}/upload", content=body, timeout=60)

    assert answer.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert "connection" not in answer.headers


def test_a_chunked_body_streams_whatever_its_size(gate: AuthgateServer) -> None:
    blocks = [os.urandom(MIB) for _ in range(4)]

    answer = httpx.post(f"{gate.public}/upload", content=iter(blocks), timeout=60)

    assert answer.json()["sha256"] == hashlib.sha256(b"".join(blocks)).hexdigest()
    assert "connection" not in answer.headers


def test_an_expect_100_continue_upload_is_told_to_go_on_and_arrives_whole(
    gate: AuthgateServer,
) -> None:
    body = os.urandom(4 * MIB)
    with connect(gate) as raw:
        raw.sendall(head("/upload", len(body), "Expect: 100-continue"))
        assert raw.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw.sendall(body)
        answer = RawAnswer(raw)

    assert answer.status == 200
    assert answer.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_request_pipelined_behind_a_spliced_body_reaches_neither_upstream_nor_gate(
    gate: AuthgateServer,
) -> None:
    body = os.urandom(2 * MIB)
    after = b"GET /pipelined HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with connect(gate) as raw:
        raw.sendall(head("/first-of-two", len(body)) + body + after)
        with contextlib.suppress(ConnectionResetError):  # closed with the request unread
            RawAnswer(raw)
    time.sleep(0.5)

    records = gate.access_records()
    assert not any(record["path"] == "/pipelined" for record in records)
    first = [r for r in records if r["path"] == "/first-of-two"]
    assert [(r["status"], r["bytes_in"]) for r in first] == [(200, len(body))]


def test_a_client_gone_mid_body_is_logged_as_gone_with_the_bytes_that_came(
    gate: AuthgateServer,
) -> None:
    with connect(gate) as raw:
        raw.sendall(head("/gone-midway", 16 * MIB))
        raw.sendall(bytes(3 * MIB))
    gone = access_line(gate, lambda record: record["path"] == "/gone-midway")

    assert gone["reason_id"] == "client_gone"
    assert gone["bytes_in"] == 3 * MIB


def test_a_body_that_stops_arriving_is_answered_408_after_the_read_timeout(
    gate: AuthgateServer,
) -> None:
    with connect(gate) as raw:
        raw.sendall(head("/upload", 8 * MIB))
        raw.sendall(bytes(2 * MIB))
        answer = RawAnswer(raw)

    assert answer.status == 408
    assert answer.json()["error"] == "body_timeout"
    assert answer.closed_after


def test_an_upstream_answering_before_the_body_ends_is_relayed_and_the_gate_goes_on(
    gate: AuthgateServer,
) -> None:
    body = os.urandom(8 * MIB)

    answer = httpx.post(f"{gate.public}/health", content=body, timeout=60)

    assert answer.status_code == 200
    assert answer.json() == {"server": "splice"}
    again = httpx.post(f"{gate.public}/upload", content=body, timeout=60)
    assert again.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_client_still_sending_after_an_early_answer_can_finish_and_read_it(
    gate: AuthgateServer,
) -> None:
    with connect(gate) as raw:
        raw.sendall(head("/health", 8 * MIB) + bytes(MIB))
        time.sleep(0.5)  # the upstream has answered; the gate has sent the answer on
        raw.sendall(bytes(7 * MIB))
        answer = RawAnswer(raw)

    assert answer.status == 200
    assert answer.json() == {"server": "splice"}
    assert answer.closed_after


def test_the_access_log_counts_a_spliced_body_whole(gate: AuthgateServer) -> None:
    body = os.urandom(3 * MIB)

    answer = httpx.post(f"{gate.public}/upload", content=body, timeout=60)

    assert answer.headers["connection"] == "close"  # it was spliced
    line = access_line(gate, lambda record: record["bytes_in"] == len(body))
    assert line["status"] == 200


def test_relays_leave_no_descriptor_open_in_the_gate(gate: AuthgateServer) -> None:
    assert gate.process is not None
    fds = Path(f"/proc/{gate.process.pid}/fd")
    body = os.urandom(2 * MIB)
    httpx.post(f"{gate.public}/upload", content=body, timeout=60)
    before = len(list(fds.iterdir()))

    for _ in range(5):
        httpx.post(f"{gate.public}/upload", content=body, timeout=60)
    with connect(gate) as raw:
        raw.sendall(head("/upload", 8 * MIB) + bytes(MIB))

    deadline = time.monotonic() + 10
    while len(list(fds.iterdir())) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(list(fds.iterdir())) <= before
