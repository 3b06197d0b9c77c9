"""Per-route rate limits through `/_authgate/forward` on a real server.

The trusted proxy is 127.0.0.2, as in test_forward_auth. Rates are per hour so no budget
refills while a test runs: outcomes never depend on timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine
from tests.integration.proxy_support import described

PROXY = "127.0.0.2"
BUDGET = 3
NOWHERE = ["http://127.0.0.1:9"]


def route(name: str, authenticate: list[str], key: str, authorize: Any = "allow") -> Any:
    return {
        "name": name,
        "path": f"/{name}/**",
        "upstream": "orders",
        "authenticate": authenticate,
        "authorize": authorize,
        "rate_limit": {"key": key, "rate": f"{BUDGET}/hour"},
    }


GATEWAY = {
    "trusted_proxies": [f"{PROXY}/32"],
    "upstreams": {"orders": {"targets": NOWHERE}},
    "routes": [
        route("by-subject", ["jwt"], "subject"),
        route("by-ip", ["jwt", "anonymous"], "ip"),
        route("other", ["jwt"], "subject"),
        route("scoped", ["jwt"], "subject", {"require": {"scopes_any": ["orders:write"]}}),
        {
            "name": "unlimited",
            "path": "/unlimited/**",
            "upstream": "orders",
            "authenticate": ["jwt"],
            "authorize": "allow",
        },
    ],
}


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=GATEWAY)


@pytest.fixture(scope="module")
def proxy(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client(local_address=PROXY) as http:
        yield http


def fresh_token(gate: AuthgateServer, scope: str = "orders:read") -> str:
    """A token of a client of its own, so no test spends another's budget."""
    return str(client_token(gate, machine(gate), scope=scope)["access_token"])


def ask(http: httpx.Client, uri: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return http.get("/_authgate/forward", headers=described("GET", uri, **headers))


def statuses(
    http: httpx.Client, uri: str, token: str | None, times: int, **headers: str
) -> list[int]:
    return [ask(http, uri, token, **headers).status_code for _ in range(times)]


def test_the_budget_passes_then_429_with_retry_after(
    gate: AuthgateServer, proxy: httpx.Client
) -> None:
    token = fresh_token(gate)
    assert statuses(proxy, "/by-subject/1", token, BUDGET) == [200] * BUDGET
    refused = ask(proxy, "/by-subject/1", token)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["cache-control"] == "no-store"
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert not any(k.startswith("x-authgate-") for k in refused.headers)


def test_each_subject_has_a_budget_of_its_own(gate: AuthgateServer, proxy: httpx.Client) -> None:
    first, second = fresh_token(gate), fresh_token(gate)
    assert statuses(proxy, "/by-subject/1", first, BUDGET + 1)[-1] == 429
    assert statuses(proxy, "/by-subject/1", second, BUDGET) == [200] * BUDGET


def test_each_route_has_a_budget_of_its_own(gate: AuthgateServer, proxy: httpx.Client) -> None:
    token = fresh_token(gate)
    assert statuses(proxy, "/by-subject/1", token, BUDGET + 1)[-1] == 429
    assert ask(proxy, "/other/1", token).status_code == 200


def test_a_route_without_a_limit_is_not_limited(gate: AuthgateServer, proxy: httpx.Client) -> None:
    token = fresh_token(gate)
    assert statuses(proxy, "/unlimited/1", token, BUDGET * 3) == [200] * (BUDGET * 3)


def test_calls_that_authorization_refuses_spend_the_budget_too(
    gate: AuthgateServer, proxy: httpx.Client
) -> None:
    token = fresh_token(gate)  # orders:read only: the route wants orders:write
    assert statuses(proxy, "/scoped/1", token, BUDGET) == [403] * BUDGET
    assert ask(proxy, "/scoped/1", token).status_code == 429


def test_the_ip_key_is_the_client_behind_the_trusted_proxy(proxy: httpx.Client) -> None:
    alice = {"X-Forwarded-For": "198.51.100.10"}
    bob = {"X-Forwarded-For": "198.51.100.11"}
    assert statuses(proxy, "/by-ip/1", None, BUDGET, **alice) == [200] * BUDGET
    assert ask(proxy, "/by-ip/1", **alice).status_code == 429
    assert ask(proxy, "/by-ip/1", **bob).status_code == 200


def test_a_client_cannot_escape_its_ip_budget_by_forging_forwarded_for(
    proxy: httpx.Client,
) -> None:
    # The proxy appends the real client (198.51.100.20) after what the client sent.
    forged = [f"203.0.113.{n}, 198.51.100.20" for n in range(BUDGET + 1)]
    answers = [ask(proxy, "/by-ip/1", **{"X-Forwarded-For": value}) for value in forged]
    assert [a.status_code for a in answers] == [200] * BUDGET + [429]
