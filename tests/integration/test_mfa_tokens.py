"""How a sign-in was made travels with it: amr and acr at introspection, in the code flow,
and at the gate's `require: {mfa: true}`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.interop_signin import drive
from tests.integration.mfa_support import (
    PASSWORD,
    answer,
    challenge,
    code,
    create_user,
    enrolled,
    login,
    steady,
)
from tests.integration.oauth_support import (
    REDIRECT_URI,
    RESOURCE_SCOPES,
    code_tokens,
    introspect,
    jose_parts,
    machine,
    pkce_pair,
    register,
    web_app,
)
from tests.integration.upstream_app import Upstream

GUARDED = "/guarded/x"
OPEN = "/open/x"


@pytest.fixture(scope="module")
def server(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    route = {"upstream": "main", "authenticate": ["jwt", "introspection", "cookie"]}
    gateway = {
        "upstreams": {"main": {"targets": [upstream.url]}},
        "routes": [
            {
                **route,
                "name": "guarded",
                "path": "/guarded/**",
                "authorize": {"require": {"mfa": True}},
            },
            {**route, "name": "open", "path": "/open/**", "authorize": "allow"},
        ],
    }
    return make_server(
        oauth={"scopes": RESOURCE_SCOPES}, gateway=gateway, throttle={"login_failures": 1000}
    )


@pytest.fixture(scope="module")
def resource(server: AuthgateServer) -> dict[str, Any]:
    return machine(server, "client_secret_post")


@pytest.fixture(scope="module")
def opaque_app(server: AuthgateServer) -> dict[str, Any]:
    """A client of the sign-in API whose access tokens are opaque (checked by introspection)."""
    return register(
        server,
        grant_types=["password", "refresh_token"],
        token_endpoint_auth_method="none",
        access_token_format="opaque",
    )


def _mfa_tokens(server: AuthgateServer, **login_fields: str) -> dict[str, Any]:
    account = enrolled(server)
    session = login(server, account.email, **login_fields).json()["session"]
    done = answer(server, session, code=code(account.secret, steady()))
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    return body


def _gate(server: AuthgateServer, path: str, token: str) -> int:
    with server.public_client() as http:
        return http.get(path, headers={"Authorization": f"Bearer {token}"}).status_code


def test_introspection_tells_amr_and_acr(server: AuthgateServer, resource: dict[str, Any]) -> None:
    tokens = _mfa_tokens(server)
    found = introspect(server, resource, tokens["access_token"])
    assert found["active"] is True
    assert found["amr"] == ["pwd", "otp"]
    assert found["acr"] == "aal2"


def test_a_code_flow_sign_in_carries_the_amr_of_the_browser_session(
    server: AuthgateServer,
) -> None:
    email, _ = create_user(server)
    tokens = code_tokens(server, web_app(server), email)
    for kind in ("access_token", "id_token"):
        claims = jose_parts(tokens[kind])[1]
        assert claims["amr"] == ["pwd"], kind
        assert claims["acr"] == "aal1", kind


def test_the_gate_admits_a_second_factor_jwt_to_an_mfa_route(server: AuthgateServer) -> None:
    assert _gate(server, GUARDED, _mfa_tokens(server)["access_token"]) == 200


def test_the_gate_refuses_a_password_only_jwt_at_an_mfa_route(server: AuthgateServer) -> None:
    email, _ = create_user(server)
    token = login(server, email).json()["access_token"]
    assert _gate(server, OPEN, token) == 200
    with server.public_client() as http:
        refused = http.get(GUARDED, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert "mfa_required" in refused.text


def test_the_gate_admits_a_second_factor_opaque_token_through_introspection(
    server: AuthgateServer, opaque_app: dict[str, Any]
) -> None:
    tokens = _mfa_tokens(server, client_id=opaque_app["client_id"])
    assert tokens["access_token"].count(".") == 0
    assert _gate(server, GUARDED, tokens["access_token"]) == 200


def test_the_gate_refuses_a_password_only_opaque_token_at_an_mfa_route(
    server: AuthgateServer, opaque_app: dict[str, Any]
) -> None:
    email, _ = create_user(server)
    token = login(server, email, client_id=opaque_app["client_id"]).json()["access_token"]
    assert _gate(server, OPEN, token) == 200
    assert _gate(server, GUARDED, token) == 403


def test_a_recovery_code_sign_in_passes_the_mfa_route(server: AuthgateServer) -> None:
    account = enrolled(server)
    done = answer(server, challenge(server, account.email), recovery_code=account.recovery_codes[0])
    assert _gate(server, GUARDED, done.json()["access_token"]) == 200


def test_the_gate_refuses_a_password_only_browser_session_at_an_mfa_route(
    server: AuthgateServer,
) -> None:
    email, _ = create_user(server)
    app = web_app(server)
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "code_challenge": pkce_pair()[1],
        "code_challenge_method": "S256",
    }
    with httpx.Client(base_url=server.public, timeout=30) as browser:
        drive(
            browser,
            f"{server.public}/oauth2/authorize?{urlencode(params)}",
            REDIRECT_URI,
            email,
            PASSWORD,
        )
        assert browser.get(OPEN).status_code == 200
        refused = browser.get(GUARDED)
    assert refused.status_code == 403
    assert "mfa_required" in refused.text
