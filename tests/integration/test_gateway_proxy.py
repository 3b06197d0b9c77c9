"""The gate's proxy through a real server and a real upstream process: what the upstream
receives and what the client gets back (failures: test_gateway_failures.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import client_token, machine
from tests.integration.proxy_support import (
    LEGACY_PASSWORD,
    LEGACY_USER,
    PROXY,
    arrived,
    bearer,
    raw_get,
    start_gate,
)
from tests.integration.upstream_app import GarbageServer, Upstream, pattern_bytes


@pytest.fixture(scope="module")
def garbage() -> Iterator[GarbageServer]:
    server = GarbageServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gate(
    make_server: ServerFactory,
    upstream: Upstream,
    garbage: GarbageServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AuthgateServer:
    return start_gate(make_server, upstream.url, garbage.url, tmp_path_factory)


@pytest.fixture(scope="module")
def http(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client() as client:
        yield client


@pytest.fixture(scope="module")
def worker(gate: AuthgateServer) -> dict[str, Any]:
    return machine(gate)


@pytest.fixture(scope="module")
def token(gate: AuthgateServer, worker: dict[str, Any]) -> str:
    return str(client_token(gate, worker, scope="orders:read")["access_token"])


# -- what the upstream receives ------------------------------------------------------------


def test_the_prefix_is_stripped_and_the_query_kept(http: httpx.Client, token: str) -> None:
    seen = arrived(http.get("/echo/orders/7?expand=all&x=%2F", headers=bearer(token)))
    assert seen["server"] == "main"
    assert seen["path"] == "/orders/7"
    assert seen["query"] == "expand=all&x=%2F"


def test_a_route_without_strip_prefix_forwards_the_whole_path(http: httpx.Client) -> None:
    assert arrived(http.get("/unstripped/a/b"))["path"] == "/unstripped/a/b"


def test_the_forwarded_path_is_the_normalized_one(gate: AuthgateServer) -> None:
    status, body = raw_get(gate, "/open/%61%62c", {})
    assert status == 200
    assert b'"path": "/abc"' in body


def test_host_is_the_targets_and_x_forwarded_host_the_clients(
    http: httpx.Client, upstream: Upstream
) -> None:
    seen = arrived(http.get("/open/x", headers={"Host": "api.example.com"}))
    assert seen["headers"]["host"] == f"127.0.0.1:{upstream.port}"
    assert seen["headers"]["x-forwarded-host"] == "api.example.com"
    assert seen["headers"]["x-forwarded-proto"] == "http"


def test_a_target_named_by_host_name_is_resolved(http: httpx.Client, upstream: Upstream) -> None:
    seen = arrived(http.get("/named/x"))
    assert seen["server"] == "main"
    assert seen["headers"]["host"] == f"localhost:{upstream.port}"


def test_identity_headers_arrive(http: httpx.Client, token: str, worker: dict[str, Any]) -> None:
    headers = arrived(http.get("/echo/x", headers=bearer(token)))["headers"]
    assert headers["x-authgate-sub"] == worker["client_id"]
    assert headers["x-authgate-client"] == worker["client_id"]
    assert headers["x-authgate-scopes"] == "orders:read"


def test_the_identity_jwt_verifies_against_the_jwks_for_this_upstream(
    gate: AuthgateServer, http: httpx.Client, token: str, worker: dict[str, Any]
) -> None:
    identity = arrived(http.get("/echo/x", headers=bearer(token)))["headers"]["x-authgate-identity"]
    jwks = httpx.get(f"{gate.public}/.well-known/jwks.json").json()
    verified = jose_jwt.decode(identity, KeySet.import_key_set(jwks))
    assert verified.header["typ"] == "authgate-identity+jwt"
    assert verified.claims["aud"] == "main"
    assert verified.claims["iss"] == gate.public
    assert verified.claims["sub"] == worker["client_id"]


def test_the_callers_authorization_is_not_forwarded(http: httpx.Client, token: str) -> None:
    headers = arrived(http.get("/echo/x", headers=bearer(token)))["headers"]
    assert "authorization" not in headers


def test_a_legacy_upstream_gets_its_basic_auth(http: httpx.Client, token: str) -> None:
    headers = arrived(http.get("/legacy/x", headers=bearer(token)))["headers"]
    expected = base64.b64encode(f"{LEGACY_USER}:{LEGACY_PASSWORD}".encode()).decode()
    assert headers["authorization"] == f"Basic {expected}"


@pytest.mark.parametrize(
    "name", ["X-Authgate-Sub", "x_authgate_sub", "X.Authgate.Sub", "X-AUTHGATE-GROUPS"]
)
def test_client_sent_identity_headers_never_reach_the_upstream(
    http: httpx.Client, token: str, worker: dict[str, Any], name: str
) -> None:
    seen = arrived(http.get("/echo/x", headers={**bearer(token), name: "admin"}))
    assert "admin" not in [value for _, value in seen["header_list"]]
    assert seen["headers"]["x-authgate-sub"] == worker["client_id"]


def test_client_sent_identity_headers_are_dropped_on_anonymous_routes(http: httpx.Client) -> None:
    seen = arrived(
        http.get("/open/x", headers={"X-Authgate-Sub": "admin", "X_Authgate_Groups": "a"})
    )
    assert not [k for k, _ in seen["header_list"] if "authgate" in k.replace("_", "-")]


def test_headers_named_by_connection_never_reach_the_upstream(http: httpx.Client) -> None:
    headers = {"Connection": "keep-alive, X-Internal", "X-Internal": "trusted", "X-Other": "1"}
    seen = arrived(http.get("/open/x", headers=headers))["headers"]
    assert "x-internal" not in seen
    assert "connection" not in seen
    assert seen["x-other"] == "1"


def test_hop_by_hop_request_headers_are_removed(http: httpx.Client) -> None:
    hop = {
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Trailer": "X-Checksum",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        "Proxy-Connection": "keep-alive",
    }
    seen = arrived(http.get("/open/x", headers={**hop, "X-End-To-End": "kept"}))["headers"]
    assert not set(seen) & {name.lower() for name in hop}
    assert seen["x-end-to-end"] == "kept"


def test_forwarding_headers_from_an_untrusted_peer_are_replaced(http: httpx.Client) -> None:
    spoofed = {
        "X-Forwarded-For": "203.0.113.66",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "Forwarded": "for=203.0.113.66",
        "X-Real-IP": "203.0.113.66",
    }
    headers = arrived(http.get("/open/x", headers=spoofed))["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] != "evil.example"
    assert "forwarded" not in headers
    assert "x-real-ip" not in headers


def test_a_trusted_proxy_has_x_forwarded_for_appended(gate: AuthgateServer) -> None:
    sent = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with gate.public_client(local_address=PROXY) as proxy:
        headers = arrived(proxy.get("/open/x", headers=sent))["headers"]
    assert headers["x-forwarded-for"] == f"203.0.113.9, {PROXY}"
    assert headers["x-forwarded-proto"] == "https"


def test_url_override_headers_never_reach_the_upstream(http: httpx.Client) -> None:
    sent = {"X-Original-URL": "/admin", "X-Rewrite-URL": "/admin", "X-HTTP-Method-Override": "PUT"}
    headers = arrived(http.get("/open/x", headers=sent))["headers"]
    assert not set(headers) & {name.lower() for name in sent}


def test_the_upstream_gets_no_header_the_client_did_not_send(gate: AuthgateServer) -> None:
    status, body = raw_get(gate, "/open/x", {"X-Mine": "1"})  # http.client adds 2 of its own
    assert status == 200
    names = [name for name, _ in json.loads(body)["headers"]]
    assert sorted(names) == sorted(
        ["host", "accept-encoding", "x-mine"]
        + ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"]
    )


# -- what the client gets back -------------------------------------------------------------


def test_hop_by_hop_response_headers_are_removed(http: httpx.Client) -> None:
    answer = http.get("/open/hop")
    assert answer.status_code == 200
    assert answer.headers["x-kept"] == "yes"
    for name in ("x-upstream-secret", "keep-alive", "proxy-authenticate", "trailer", "upgrade"):
        assert name not in answer.headers
    assert answer.headers.get("connection", "keep-alive") == "keep-alive"


def test_a_request_body_streams_through_intact(http: httpx.Client) -> None:
    body = pattern_bytes(3 * 1024 * 1024 + 17)
    answer = http.post("/open/upload", content=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "server": "main",
        "bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }


def test_a_chunked_request_body_streams_through_intact(http: httpx.Client) -> None:
    pieces = [pattern_bytes(1000)] * 300
    answer = http.post("/open/upload", content=iter(pieces))
    assert answer.status_code == 200, answer.text
    assert answer.json()["bytes"] == 300_000


def test_a_streamed_response_arrives_whole(http: httpx.Client) -> None:
    size = 20 * 1024 * 1024 + 5
    total = 0
    first = b""
    with http.stream("GET", f"/open/stream?bytes={size}") as answer:
        assert answer.status_code == 200
        for chunk in answer.iter_raw():
            if len(first) < 1000:
                first += chunk[:1000]
            total += len(chunk)
    assert total == size
    assert first[:1000] == pattern_bytes(1000)


def test_head_passes_through_without_a_body(http: httpx.Client) -> None:
    answer = http.head("/open/x")
    assert answer.status_code == 200
    assert answer.content == b""
    assert int(answer.headers["content-length"]) > 0


def test_an_upstream_dying_mid_answer_aborts_the_clients_connection(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/open/abort")
    assert http.get("/open/x").status_code == 200


def test_a_long_answer_stops_when_the_client_goes_away(gate: AuthgateServer) -> None:
    endless = 64 * 1024**3
    with (
        httpx.Client(base_url=gate.public, timeout=30) as client,
        client.stream("GET", f"/open/stream?bytes={endless}&mark=gone") as answer,
    ):
        assert answer.status_code == 200
        next(answer.iter_raw(1024 * 1024))
    deadline = time.monotonic() + 20
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not lines:
        lines = [
            line
            for line in gate.access_records()
            if line["path"] == "/open/stream" and line["reason_id"] == "client_gone"
        ]
        time.sleep(0.1)
    assert lines, "the gate kept reading the upstream after the client left"
    assert lines[0]["bytes_out"] < endless
