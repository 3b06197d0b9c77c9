"""The decision API and the policy admin API attacked: near-miss admin tokens, oversized and
deeply nested bodies, patterns that would backtrack or break out of their `<...>`, and
policy ids that look like paths. Storage-independent, so SQLite only."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine
from tests.integration.upstream_app import Upstream

PATH = "/authz/allowed"
PROXY = "127.0.0.2"
OFFICE = "203.0.113.0/24"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def server(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    """The gate's `/office/**` asks the policies, with `remoteIP` in the context."""
    office = {
        "name": "office",
        "path": "/office/**",
        "upstream": "main",
        "authenticate": ["jwt"],
        "authorize": {"policy": {"action": "{method_verb}", "resource": "office:{path[1]}"}},
    }
    gateway = {
        "trusted_proxies": [f"{PROXY}/32"],
        "upstreams": {"main": {"targets": [upstream.url]}},
        "routes": [office],
    }
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=gateway)


@pytest.fixture(scope="module")
def admin(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.admin_client() as client:
        yield client


@pytest.fixture(scope="module")
def public(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.public_client() as client:
        yield client


@pytest.fixture(scope="module")
def caller(server: AuthgateServer) -> dict[str, str]:
    """The headers of a service allowed to ask (a client granted authgate:decide)."""
    service = machine(server, scope="authgate:decide")
    token = client_token(server, service, scope="authgate:decide")["access_token"]
    return {"Authorization": f"Bearer {token}"}


def add_policy(admin: httpx.Client, **document: Any) -> httpx.Response:
    body = {"id": f"p-{secrets.token_hex(4)}", "actions": ["read"], "effect": "allow", **document}
    return admin.post("/admin/policies", json=body)


def allowed(public: httpx.Client, caller: dict[str, str], **question: Any) -> bool:
    answer = public.post(PATH, json={"action": "read", **question}, headers=caller)
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["allowed"])


def _near_misses(token: str) -> list[str]:
    last = "A" if token[-1] != "A" else "B"
    return [token[:-1] + last, token[:-1], token + "A", token.swapcase(), " " + token]


def test_an_admin_token_wrong_by_one_character_is_401(
    server: AuthgateServer, public: httpx.Client
) -> None:
    question = {"subject": "s", "action": "read", "resource": "r"}
    for near in _near_misses(server.admin_token):
        answer = public.post(PATH, json=question, headers={"Authorization": f"Bearer {near}"})
        assert answer.status_code == 401, near


def test_an_oversized_body_is_413(public: httpx.Client, caller: dict[str, str]) -> None:
    body = b'{"subject": "' + b"a" * 200_000 + b'"}'
    headers = {**caller, "Content-Type": "application/json"}
    assert public.post(PATH, content=body, headers=headers).status_code == 413


def test_an_oversized_chunked_body_is_413(public: httpx.Client, caller: dict[str, str]) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 10_000

    headers = {**caller, "Content-Type": "application/json"}
    assert public.post(PATH, content=chunks(), headers=headers).status_code == 413


def test_deeply_nested_json_is_400_and_the_server_keeps_answering(
    public: httpx.Client, caller: dict[str, str]
) -> None:
    nested = "[" * 30_000 + "]" * 30_000
    body = f'{{"subject":"s","action":"read","resource":"r","context":{{"a":{nested}}}}}'
    headers = {**caller, "Content-Type": "application/json"}
    answer = public.post(PATH, content=body.encode(), headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert allowed(public, caller, subject="s", resource="r") is False


def test_a_backtracking_pattern_still_decides(
    admin: httpx.Client, public: httpx.Client, caller: dict[str, str]
) -> None:
    created = add_policy(admin, subjects=["<(a+)+b>"], resources=["<(x*)*y>"])
    assert created.status_code == 201, created.text
    assert allowed(public, caller, subject="a" * 4000 + "c", resource="x" * 4000) is False
    assert allowed(public, caller, subject="a" * 40 + "b", resource="x" * 40 + "y") is True


@pytest.mark.parametrize(
    "pattern",
    [
        "<(.*a.*b.*c){300}>",
        "<(((a{10}){10}){10}){10}>",
        "a" * 600,
        "<a)|(.*>",
        "<\\Q>x",
        "<a",
        "<a>>",
    ],
)
def test_patterns_too_costly_or_breaking_out_are_refused_at_write(
    admin: httpx.Client, pattern: str
) -> None:
    answer = add_policy(admin, subjects=["s"], resources=[pattern])
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_policy"


def test_a_regex_part_cannot_reach_past_its_brackets(
    admin: httpx.Client, public: httpx.Client, caller: dict[str, str]
) -> None:
    subject = f"s-{secrets.token_hex(4)}"
    assert add_policy(admin, subjects=[subject], resources=["orders:<a|b>:x"]).status_code == 201
    assert allowed(public, caller, subject=subject, resource="orders:a:x") is True
    assert allowed(public, caller, subject=subject, resource="orders:a") is False
    assert allowed(public, caller, subject=subject, resource="b:x") is False


# -- remoteIP in the gate's policy context ------------------------------------------------


@pytest.fixture(scope="module")
def office_token(server: AuthgateServer, admin: httpx.Client) -> str:
    """A client allowed to read the office only from the office network."""
    worker = machine(server)
    cidr = {"remoteIP": {"type": "CIDRCondition", "options": {"cidr": OFFICE}}}
    created = add_policy(
        admin, subjects=[worker["client_id"]], resources=["office:<.*>"], conditions=cidr
    )
    assert created.status_code == 201, created.text
    return str(client_token(server, worker, scope="orders:read")["access_token"])


def through_gate(server: AuthgateServer, token: str, sent_for: str, source: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": sent_for}
    with server.public_client(local_address=source) as http:
        return http.get("/office/plans", headers=headers).status_code


@pytest.mark.parametrize(
    "spoofed", ["203.0.113.5", "203.0.113.5, 127.0.0.1", "127.0.0.2, 203.0.113.5"]
)
def test_an_untrusted_peer_cannot_claim_an_office_address(
    server: AuthgateServer, office_token: str, spoofed: str
) -> None:
    assert through_gate(server, office_token, spoofed, "127.0.0.1") == 403


def test_a_trusted_proxy_vouches_for_the_office_address(
    server: AuthgateServer, office_token: str
) -> None:
    assert through_gate(server, office_token, "203.0.113.5", PROXY) == 200


def test_a_trusted_proxy_passing_on_a_spoofed_hop_is_not_believed_past_it(
    server: AuthgateServer, office_token: str
) -> None:
    assert through_gate(server, office_token, "203.0.113.5, 198.51.100.9", PROXY) == 403


# -- policy ids that look like paths -------------------------------------------------------


def raw_admin(server: AuthgateServer, method: str, target: str) -> tuple[int, bytes]:
    """An admin request line exactly as written (httpx would resolve the dot segments)."""
    line = f"{method} {target} HTTP/1.1\r\nHost: a\r\n"
    auth = f"Authorization: Bearer {server.admin_token}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.admin_port), timeout=10) as conn:
        conn.sendall((line + auth).encode())
        received = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (chunk := conn.recv(65536)):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.fixture
def path_like(admin: httpx.Client) -> str:
    """Two policies: `<tag>/../<tag>-other` and `<tag>-other`; the tag."""
    tag = f"t{secrets.token_hex(3)}"
    for pid in (f"{tag}/../{tag}-other", f"{tag}-other"):
        created = add_policy(admin, id=pid, subjects=["s"], resources=["r"])
        assert created.status_code == 201, created.text
    return tag


def test_an_id_with_dot_segments_is_read_as_written(server: AuthgateServer, path_like: str) -> None:
    status, body = raw_admin(server, "GET", f"/admin/policies/{path_like}/../{path_like}-other")
    assert status == 200
    assert f'"id":"{path_like}/../{path_like}-other"'.encode() in body


def test_deleting_an_id_with_dot_segments_leaves_its_namesake(
    server: AuthgateServer, admin: httpx.Client, path_like: str
) -> None:
    status, _ = raw_admin(server, "DELETE", f"/admin/policies/{path_like}/../{path_like}-other")
    assert status == 204
    assert admin.get(f"/admin/policies/{path_like}-other").status_code == 200


def test_dot_segments_after_policies_never_reach_another_resource(server: AuthgateServer) -> None:
    status, body = raw_admin(server, "GET", "/admin/policies/../clients")
    assert status == 404
    assert b"policy_not_found" in body
