"""WebSocket upgrades through the gate, against a real upstream process: the handshake is
authorized like a GET, the upstream sees the gate's headers, and messages and close codes
pass both ways."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine
from tests.integration.upstream_app import Upstream


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    process = Upstream(tmp_path_factory.mktemp("upstream"), "ws").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    common = {"upstream": "ws"}
    config = {
        "upstreams": {"ws": {"targets": [upstream.url]}},
        "routes": [
            {
                **common,
                "name": "open",
                "path": "/open/**",
                "strip_prefix": "/open",
                "authenticate": ["anonymous"],
                "authorize": "allow",
            },
            {
                **common,
                "name": "private",
                "path": "/private/**",
                "authenticate": ["jwt"],
                "authorize": {"require": {"scopes_any": ["orders:read"]}},
            },
        ],
    }
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=config)


@pytest.fixture(scope="module")
def worker(gate: AuthgateServer) -> dict[str, Any]:
    return machine(gate)


@pytest.fixture(scope="module")
def token(gate: AuthgateServer, worker: dict[str, Any]) -> str:
    return str(client_token(gate, worker, scope="orders:read")["access_token"])


def open_socket(gate: AuthgateServer, path: str, **options: Any) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{gate.public_port}{path}", open_timeout=10, **options)


def handshake_seen(socket: ClientConnection) -> dict[str, Any]:
    seen: dict[str, Any] = json.loads(socket.recv(timeout=10))
    seen["headers"] = {name: value for name, value in seen["headers"]}
    return seen


def test_messages_pass_both_ways(gate: AuthgateServer) -> None:
    with open_socket(gate, "/open/chat?room=1", subprotocols=["chat.v1"]) as socket:
        seen = handshake_seen(socket)
        assert (seen["path"], seen["query"]) == ("/chat", "room=1")
        assert socket.subprotocol == "chat.v1"
        socket.send("hello")
        assert socket.recv(timeout=10) == "hello"
        socket.send(b"\x00\x01\xff")
        assert socket.recv(timeout=10) == b"\x00\x01\xff"


def test_the_upstreams_close_code_reaches_the_client(gate: AuthgateServer) -> None:
    with open_socket(gate, "/open/chat") as socket:
        handshake_seen(socket)
        socket.send("close:4001")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001


def test_the_handshake_needs_what_the_route_requires(gate: AuthgateServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(gate, "/private/chat")
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as unknown:
        open_socket(gate, "/nowhere")
    assert unknown.value.response.status_code == 404


def test_the_upstream_sees_the_gates_headers_not_the_clients(
    gate: AuthgateServer, upstream: Upstream, token: str, worker: dict[str, Any]
) -> None:
    sent = {
        "Authorization": f"Bearer {token}",
        "X-Authgate-Sub": "admin",
        "X-Forwarded-For": "203.0.113.66",
    }
    with open_socket(gate, "/private/chat", additional_headers=sent) as socket:
        headers = handshake_seen(socket)["headers"]
    assert headers["x-authgate-sub"] == worker["client_id"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["host"] == f"127.0.0.1:{upstream.port}"
    assert "authorization" not in headers
