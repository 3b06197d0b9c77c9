"""The user-pool and OAuth endpoints see the client's address behind a trusted proxy only.

Throttles and audit key on the caller's address. Behind nginx every caller would share the
proxy's address unless X-Forwarded-For is read; read from anyone else, it would let a
client pick the address its failures are counted against.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

PROXY = "127.0.0.250"
STRANGER = "127.0.0.251"
CLIENT_BEHIND_PROXY = "198.51.100.7"


@pytest.fixture(scope="module")
def proxied(make_server: ServerFactory) -> AuthgateServer:
    return make_server(gateway={"trusted_proxies": [f"{PROXY}/32"]})


def failed_login_from(server: AuthgateServer, source: str, **headers: str) -> str:
    """Log in with a wrong password from `source`; the username the audit is searched by."""
    username = unique_email("addr")
    with server.public_client(local_address=source) as http:
        answer = http.post(
            "/v1/login", json={"username": username, "password": "not it at all"}, headers=headers
        )
    assert answer.status_code == 401, answer.text
    return username


def audited_ip(server: AuthgateServer, username: str) -> Any:
    with server.admin_client() as admin:
        events = admin.get("/admin/audit", params={"event": "login_failure", "limit": "500"})
    assert events.status_code == 200, events.text
    (event,) = [e for e in events.json()["items"] if e["detail"].get("username") == username]
    return event["ip"]


def test_a_trusted_proxy_reports_the_client_address(proxied: AuthgateServer) -> None:
    username = failed_login_from(proxied, PROXY, **{"X-Forwarded-For": CLIENT_BEHIND_PROXY})
    assert audited_ip(proxied, username) == CLIENT_BEHIND_PROXY


def test_only_the_hop_the_proxy_appended_is_believed(proxied: AuthgateServer) -> None:
    forged = f"203.0.113.1, {CLIENT_BEHIND_PROXY}"
    username = failed_login_from(proxied, PROXY, **{"X-Forwarded-For": forged})
    assert audited_ip(proxied, username) == CLIENT_BEHIND_PROXY


def test_anyone_else_cannot_choose_their_address(proxied: AuthgateServer) -> None:
    username = failed_login_from(proxied, STRANGER, **{"X-Forwarded-For": CLIENT_BEHIND_PROXY})
    assert audited_ip(proxied, username) == STRANGER


def test_without_trusted_proxies_forwarding_headers_are_ignored(server: AuthgateServer) -> None:
    username = failed_login_from(server, PROXY, **{"X-Forwarded-For": CLIENT_BEHIND_PROXY})
    assert audited_ip(server, username) == PROXY


def test_per_ip_lockout_follows_the_client_behind_the_proxy(proxied: AuthgateServer) -> None:
    """Failures of one client behind the proxy lock that client out, not the proxy."""
    first, other = "198.51.100.20", "198.51.100.21"
    statuses = []
    for _ in range(40):
        username = unique_email("spray")
        with httpx.Client(
            base_url=proxied.public, transport=httpx.HTTPTransport(local_address=PROXY)
        ) as http:
            answer = http.post(
                "/v1/login",
                json={"username": username, "password": "not it at all"},
                headers={"X-Forwarded-For": first},
            )
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    username = failed_login_from(proxied, PROXY, **{"X-Forwarded-For": other})
    assert audited_ip(proxied, username) == other
