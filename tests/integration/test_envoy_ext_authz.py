"""authgate as Envoy's `ext_authz` HTTP service, configured by deploy/envoy/envoy.yaml.

Envoy is not installable here, so the test plays its part from the committed file: the
`path_prefix`, `allowed_headers`, `allowed_upstream_headers` and `allowed_client_headers`
are read from envoy.yaml, the authorization request is built as Envoy's HTTP client builds
it (the client's method, prefix + path and query, Host, Content-Length 0, Authorization
and the allowed headers), and authgate's answer is applied as Envoy applies it (on 200 set
the allowed upstream headers, then remove `x-envoy-auth-headers-to-remove`; otherwise the
status, body and allowed headers go to the client). The request comes from 127.0.0.2, the
trusted proxy. (That envoy.yaml is valid Envoy configuration is tests/unit/test_deploy_envoy.py.)
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import ServerFactory
from tests.integration.front_proxy_support import route
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, jose_parts, machine

ENVOY_YAML = Path(__file__).resolve().parents[2] / "deploy" / "envoy" / "envoy.yaml"
ENVOY = "127.0.0.2"
STRANGER = "127.0.0.1"
ALWAYS_SENT = ("authorization", "host")
"""Envoy adds these (with :method and :path) to whatever allowed_headers lets through."""
ALWAYS_TO_CLIENT = ("content-length", "www-authenticate", "location")
HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove"


def _filter(config: dict[str, Any], name: str) -> dict[str, Any]:
    listener = config["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    [found] = [f["typed_config"] for f in manager["http_filters"] if f["name"] == name]
    return dict(found)


ENVOY_CONFIG = yaml.safe_load(ENVOY_YAML.read_text())
EXT_AUTHZ = _filter(ENVOY_CONFIG, "envoy.filters.http.ext_authz")
HTTP_SERVICE = EXT_AUTHZ["http_service"]
PATH_PREFIX: str = HTTP_SERVICE["path_prefix"]


def _matches(patterns: list[dict[str, Any]], name: str) -> bool:
    """Envoy's StringMatcher on a (lower-case) header name."""
    for pattern in patterns:
        key = name.lower() if pattern.get("ignore_case") else name
        for kind, value in pattern.items():
            wanted = value.lower() if pattern.get("ignore_case") else value
            if kind == "exact" and key == wanted:
                return True
            if kind == "prefix" and key.startswith(wanted):
                return True
            if kind == "suffix" and key.endswith(wanted):
                return True
            if kind == "contains" and wanted in key:
                return True
    return False


def _patterns(section: str, name: str) -> list[dict[str, Any]]:
    return list(HTTP_SERVICE[section][name]["patterns"])


@dataclass
class Outcome:
    """What Envoy does with the client's request: forward it (upstream headers) or answer."""

    authz_status: int
    authz_headers: list[tuple[str, str]]
    upstream: list[tuple[str, str]] | None = None
    status: int | None = None
    client_headers: list[tuple[str, str]] | None = None
    body: bytes = b""

    def upstream_values(self, name: str) -> list[str]:
        assert self.upstream is not None, (self.status, self.body)
        return [v for k, v in self.upstream if k == name]


def envoy(
    gate: AuthgateServer,
    path: str,
    headers: list[tuple[str, str]] | None = None,
    method: str = "GET",
    peer: str = ENVOY,
) -> Outcome:
    """One client request through the Envoy of envoy.yaml, with authgate deciding."""
    sent = [(k.lower(), v) for k, v in [("host", "orders.example"), *(headers or [])]]
    sent += [("x-forwarded-proto", "http"), ("x-forwarded-for", "203.0.113.7")]  # Envoy's own
    allowed = list(EXT_AUTHZ["allowed_headers"]["patterns"])
    joined: dict[str, str] = {}
    for name, value in sent:  # the CheckRequest holds one value per name, repeats joined
        if name in ALWAYS_SENT or _matches(allowed, name):
            joined[name] = f"{joined[name]},{value}" if name in joined else value
    conn = http.client.HTTPConnection("127.0.0.1", gate.public_port, timeout=30)
    conn.sock = socket.create_connection(("127.0.0.1", gate.public_port), 30, (peer, 0))
    try:
        conn.putrequest(method, PATH_PREFIX + path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("content-length", "0")
        for name, value in joined.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        answer = [(k.lower(), v) for k, v in response.getheaders()]
    finally:
        conn.close()
    outcome = Outcome(response.status, answer)
    if response.status == 200:
        upstream_allowed = _patterns("authorization_response", "allowed_upstream_headers")
        to_set = {k: v for k, v in answer if _matches(upstream_allowed, k)}
        upstream = [(k, v) for k, v in sent if k not in to_set] + list(to_set.items())
        removed = {
            name.strip().lower()
            for k, v in answer
            if k == HEADERS_TO_REMOVE
            for name in v.split(",")
            if name.strip()
        }
        outcome.upstream = [(k, v) for k, v in upstream if k == "host" or k not in removed]
    else:
        to_client = _patterns("authorization_response", "allowed_client_headers")
        outcome.status = 403 if response.status >= 500 else response.status
        outcome.client_headers = [
            (k, v) for k, v in answer if k in ALWAYS_TO_CLIENT or _matches(to_client, k)
        ]
        outcome.body = body
    return outcome


@pytest.fixture(scope="module")
def backend() -> str:
    """Envoy's protocol is what is tested here: one authgate backend is enough."""
    return "sqlite"


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory) -> AuthgateServer:
    gateway = {
        "trusted_proxies": [f"{ENVOY}/32"],
        "upstreams": {"app": {"targets": ["http://127.0.0.1:9"]}},
        "routes": [
            route(
                "orders",
                "/orders/**",
                ["jwt"],
                {"require": {"scopes_any": ["orders:read"]}},
                methods=["GET"],
            ),
            route("kept", "/kept/**", ["jwt"], "allow", keep_authorization=True),
            route("public", "/public/**", ["anonymous"], "allow"),
        ],
    }
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=gateway)


def bearer(gate: AuthgateServer, scope: str = "orders:read") -> tuple[str, str]:
    client = machine(gate, scope=scope)
    return client["client_id"], str(client_token(gate, client)["access_token"])


def test_envoy_yaml_is_one_consistent_static_config() -> None:
    clusters = {c["name"] for c in ENVOY_CONFIG["static_resources"]["clusters"]}
    assert HTTP_SERVICE["server_uri"]["cluster"] in clusters
    listener = ENVOY_CONFIG["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    assert {r["route"]["cluster"] for r in routes} <= clusters
    assert manager["http_filters"][-1]["name"] == "envoy.filters.http.router"
    assert PATH_PREFIX == "/_authgate/envoy"


def test_an_allowed_request_gets_200_with_the_identity_for_the_upstream(
    gate: AuthgateServer,
) -> None:
    client_id, token = bearer(gate)
    outcome = envoy(gate, "/orders/1?x=1", [("Authorization", f"Bearer {token}")])
    assert outcome.authz_status == 200
    assert dict(outcome.authz_headers)["x-authgate-sub"] == client_id
    assert outcome.upstream_values("x-authgate-sub") == [client_id]
    assert outcome.upstream_values("x-authgate-client") == [client_id]
    [identity] = outcome.upstream_values("x-authgate-identity")
    assert jose_parts(identity)[1]["sub"] == client_id


def test_the_bearer_token_stays_at_the_gate_unless_the_route_keeps_it(
    gate: AuthgateServer,
) -> None:
    _, token = bearer(gate)
    signed = [("Authorization", f"Bearer {token}")]
    assert envoy(gate, "/orders/1", signed).upstream_values("authorization") == []
    kept = envoy(gate, "/kept/1", signed).upstream_values("authorization")
    assert kept == [f"Bearer {token}"]


def test_no_token_is_denied_with_authgates_401_body_and_challenge(gate: AuthgateServer) -> None:
    outcome = envoy(gate, "/orders/1")
    assert outcome.status == 401
    assert json.loads(outcome.body)["error"] == "unauthorized"
    assert dict(outcome.client_headers or [])["www-authenticate"].startswith("Bearer")


def test_a_token_without_the_scope_is_denied_with_403_and_a_body(gate: AuthgateServer) -> None:
    _, token = bearer(gate, scope="orders:write")
    outcome = envoy(gate, "/orders/1", [("Authorization", f"Bearer {token}")])
    assert outcome.status == 403
    assert json.loads(outcome.body)["error"] == "forbidden"


def test_the_decision_is_on_the_clients_method(gate: AuthgateServer) -> None:
    _, token = bearer(gate)
    outcome = envoy(gate, "/orders/1", [("Authorization", f"Bearer {token}")], method="POST")
    assert outcome.status == 405


@pytest.mark.parametrize("name", ["X-Authgate-Sub", "X-Authgate-Username", "X-Authgate-Identity"])
def test_client_sent_identity_headers_never_reach_the_upstream(
    gate: AuthgateServer, name: str
) -> None:
    client_id, token = bearer(gate)
    spoof = [(name, "admin")]
    signed = envoy(gate, "/orders/1", [("Authorization", f"Bearer {token}"), *spoof])
    assert "admin" not in signed.upstream_values(name.lower())
    assert signed.upstream_values("x-authgate-sub") == [client_id]
    anonymous = envoy(gate, "/public/x", spoof)
    assert anonymous.upstream_values(name.lower()) == []


def test_a_spoofed_identity_does_not_authenticate(gate: AuthgateServer) -> None:
    outcome = envoy(gate, "/orders/1", [("X-Authgate-Sub", "admin"), ("X-Authgate-Scopes", "*")])
    assert outcome.status == 401


@pytest.mark.parametrize("name", ["X-Original-URL", "X-HTTP-Method-Override", "X-Forwarded-Uri"])
def test_headers_that_rename_the_request_never_reach_the_upstream(
    gate: AuthgateServer, name: str
) -> None:
    outcome = envoy(gate, "/public/x", [(name, "/orders/1")])
    assert outcome.upstream_values(name.lower()) == []


def test_authgate_cookies_stay_at_the_gate(gate: AuthgateServer) -> None:
    cookie = "theme=dark; authgate_session=sso; __Host-authgate_csrf=c; lang=en-GB"
    mixed = envoy(gate, "/public/x", [("Cookie", cookie)])
    assert mixed.upstream_values("cookie") == ["theme=dark; lang=en-GB"]
    own = envoy(gate, "/public/x", [("Cookie", "authgate_session=sso")])
    assert own.upstream_values("cookie") == []
    other = envoy(gate, "/public/x", [("Cookie", "theme=dark")])
    assert other.upstream_values("cookie") == ["theme=dark"]


def test_only_a_trusted_proxy_may_ask(gate: AuthgateServer) -> None:
    outcome = envoy(gate, "/public/x", peer=STRANGER)
    assert outcome.status == 403
    assert json.loads(outcome.body)["reason_id"] == "untrusted_peer"


@pytest.mark.parametrize("path", ["/public/../orders/1", "/public/%2e%2e/orders/1"])
def test_path_tricks_are_not_allowed(gate: AuthgateServer, path: str) -> None:
    outcome = envoy(gate, path)
    assert outcome.status in (400, 401, 404)
