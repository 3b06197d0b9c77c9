"""Per-route CORS through the gate's proxy: preflights answered before authentication,
the route's headers on answers (also refusals), the upstream's own replaced."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine
from tests.integration.upstream_app import Upstream

APP = "https://app.example.com"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    return make_server(
        oauth={"scopes": RESOURCE_SCOPES},
        gateway={
            "upstreams": {"main": {"targets": [upstream.url]}},
            "routes": [
                {
                    "name": "spa",
                    "path": "/spa/**",
                    "methods": ["GET", "POST"],
                    "upstream": "main",
                    "strip_prefix": "/spa",
                    "authenticate": ["jwt"],
                    "authorize": {"require": {"scopes_any": ["orders:read"]}},
                    "cors": {
                        "origins": [APP],
                        "credentials": True,
                        "expose_headers": ["X-Request-Id"],
                    },
                },
                {
                    "name": "plain",
                    "path": "/plain/**",
                    "upstream": "main",
                    "authenticate": ["anonymous"],
                    "authorize": "allow",
                },
            ],
        },
    )


@pytest.fixture(scope="module")
def http(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client() as client:
        yield client


@pytest.fixture(scope="module")
def token(gate: AuthgateServer) -> str:
    value: str = client_token(gate, machine(gate, scope="orders:read"))["access_token"]
    return value


def preflight(http: httpx.Client, origin: str, method: str, **extra: str) -> httpx.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": method, **extra}
    return http.options("/spa/orders", headers=headers)


def test_a_preflight_is_answered_without_credentials(http: httpx.Client) -> None:
    answer = preflight(http, APP, "POST", **{"Access-Control-Request-Headers": "authorization"})
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == APP
    assert answer.headers["access-control-allow-methods"] == "POST"
    assert answer.headers["access-control-allow-headers"] == "authorization"
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "origin" in answer.headers["vary"].lower()


def test_a_preflight_from_a_foreign_origin_is_refused(http: httpx.Client) -> None:
    answer = preflight(http, EVIL, "GET")
    assert answer.status_code == 403
    assert answer.json()["error"] == "cors_origin_denied"
    assert "access-control-allow-origin" not in answer.headers


def test_a_preflight_for_a_method_the_route_does_not_serve_is_refused(
    http: httpx.Client,
) -> None:
    answer = preflight(http, APP, "DELETE")
    assert answer.status_code == 405
    assert "access-control-allow-origin" not in answer.headers


def test_an_answer_carries_the_routes_headers_not_the_upstreams(
    http: httpx.Client, token: str
) -> None:
    answer = http.get("/spa/cors", headers={"Origin": APP, "Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers.get_list("access-control-allow-origin") == [APP]
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-expose-headers"] == "X-Request-Id"


def test_a_foreign_origin_gets_no_cors_headers_even_if_the_upstream_sends_some(
    http: httpx.Client, token: str
) -> None:
    answer = http.get("/spa/cors", headers={"Origin": EVIL, "Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert not [name for name in answer.headers if name.startswith("access-control-")]


def test_a_refusal_carries_cors_headers_so_the_page_can_read_it(http: httpx.Client) -> None:
    answer = http.get("/spa/orders", headers={"Origin": APP})
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == APP
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_route_without_cors_passes_the_upstreams_headers_unchanged(
    http: httpx.Client,
) -> None:
    answer = http.get("/plain/cors", headers={"Origin": EVIL})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"


def test_an_options_request_that_is_not_a_preflight_follows_the_routes_rules(
    http: httpx.Client,
) -> None:
    answer = http.options("/spa/orders", headers={"Origin": APP})
    assert answer.status_code == 405
    assert "access-control-allow-methods" not in answer.headers
