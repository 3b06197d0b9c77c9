"""Every route that needs a credential checks it before it reads the body (issue 9, item 11).

The admin API answered a tokenless request with bad JSON 400 "JSON decode error": who has
no credential must learn nothing about how a body would be judged. The routes come from
the apps' own route tables, so a new route is checked without anyone remembering to: it
must answer 401 to a tokenless request, or be listed below as open, with the reason.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from authgate.api import admin_app
from authgate.server import create_admin_app, public_routes
from tests.integration.harness import AuthgateServer

# Routes that need no credential, or whose credential is in the body, each with why.
OPEN_PUBLIC = {
    "/v1/signup": "sign-up",
    "/v1/signup/confirm": "the mailed code is the credential",
    "/v1/signup/resend": "answers alike for everyone",
    "/v1/login": "the password is in the body",
    "/v1/login/mfa": "the sign-in's challenge session is in the body",
    "/v1/login/mfa/setup": "the sign-in's challenge session is in the body",
    "/v1/login/mfa/setup/verify": "the sign-in's challenge session is in the body",
    "/v1/token/refresh": "the refresh token is in the body",
    "/v1/logout": "the refresh token is in the body",
    "/v1/password/forgot": "answers alike for everyone",
    "/v1/password/reset": "the mailed code is in the body",
    "/oauth2/token": "client_secret_post: client credentials may be in the form",
    "/oauth2/introspect": "client_secret_post: client credentials may be in the form",
    "/oauth2/revoke": "client_secret_post: client credentials may be in the form",
    "/oauth2/authorize": "a browser flow: the sign-in page is the answer",
    "/oauth2/logout": "RP-initiated logout: a browser flow",
    "/oauth2/signin": "the sign-in page's old address: a redirect to the new one",
    "/oauth2/consent": "the consent page's old address: a redirect to the new one",
    "/oauth2/signout": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/login": "hosted page: the sign-in form itself",
    "/auth/consent": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/logout": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/signup": "hosted page: sign-up",
    "/auth/signup/confirm": "hosted page: the mailed code is the credential",
    "/auth/password/forgot": "hosted page: answers alike for everyone",
    "/auth/password/reset": "hosted page: the mailed code is the credential",
    "/auth/account": "hosted page: without a session cookie, a redirect to sign in",
    "/auth/account/deleted": "hosted page: only says the account is gone",
    "/auth/account/reauth": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/account/passkeys": "hosted page: without a session cookie, a redirect to sign in",
    "/auth/account/passkeys/options": "hosted page: session cookie and CSRF token",
    "/auth/account/passkeys/x/rename": "hosted page: session cookie and CSRF token",
    "/auth/account/passkeys/x/delete": "hosted page: session cookie and CSRF token",
    "/auth/login/passkey": "hosted page: the passkey assertion is the credential",
    "/auth/login/passkey/options": "hosted page: options for a passkey sign-in",
    "/v1/passkeys/login": "the passkey assertion is the credential",
    "/cognito": "Cognito's protocol: a ClientId, token, Session or SigV4 signature in the call",
    "/cognito/": "Cognito's protocol: a ClientId, token, Session or SigV4 signature in the call",
    "/v1/passkeys/login/options": "options for a passkey sign-in, alike for every username",
    "/auth/account/profile": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/account/email": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/account/email/verify": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/account/password": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/account/sessions/end": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/account/sessions/end-others": "hosted page: session cookie and CSRF token",
    "/auth/account/apps/revoke": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/account/delete": "hosted page: session cookie and CSRF token, answers with pages",
    "/auth/login/mfa": "hosted page: the sign-in's challenge cookie and CSRF token",
    "/auth/account/mfa": "hosted page: without a session cookie, a redirect to sign in",
    "/auth/account/mfa/totp": "hosted page: without a session cookie, a redirect to sign in",
    "/auth/account/mfa/totp/verify": "hosted page: without a session, a redirect to sign in",
    "/auth/account/mfa/totp/disable": "hosted page: without a session, a redirect to sign in",
    "/auth/account/mfa/recovery-codes": "hosted page: without a session, a redirect to sign in",
    "/auth/federation/x/start": "hosted page: CSRF token; starts a sign-in at a provider",
    "/oauth2/callback/x": "a browser flow: the provider's answer, bound to the browser",
    "/auth/account/federation/x/link": "hosted page: without a session, a redirect to sign in",
    "/auth/account/federation/x/unlink": "hosted page: without a session, a redirect to sign in",
    "/_authgate/forward": "the gate's decision point: each gate route names its authenticators",
    "/_authgate/envoy/x": "the gate's decision point for Envoy: as /_authgate/forward",
    "/.well-known/openid-configuration": "discovery",
    "/.well-known/oauth-authorization-server": "discovery",
    "/.well-known/jwks.json": "public keys",
    "/healthz": "liveness",
    "/readyz": "readiness",
}
OPEN_ADMIN = {
    "/healthz": "liveness",
    "/readyz": "readiness",
    "/metrics": "counts and timings per route only; the admin listener is not public",
    "/docs": "the API's description",
    "/openapi.json": "the API's description",
}
PARAMETER = re.compile(r"\{[^}]+\}")
BAD_BODIES = {
    "invalid_json": ("application/json", b'{"name": '),
    "name_twice": ("application/json", b'{"name": "a", "name": "b"}'),
    "not_json": ("text/plain", b"name=a"),
    "too_large": ("application/json", b'{"name": "' + b"x" * 70_000 + b'"}'),
}


def operations(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    """(method, path with its parameters filled in) for every route of a route table."""
    found = []
    for route in routes:
        if not isinstance(route, Route | APIRoute):
            continue
        path = PARAMETER.sub("x", route.path)
        methods = set(route.methods or {"GET"}) - {"HEAD"}
        found.extend((method, path) for method in sorted(methods))
    return found


def closed(table: list[tuple[str, str]], open_paths: dict[str, str]) -> list[tuple[str, str]]:
    return [(m, p) for m, p in table if p not in open_paths]


PUBLIC = operations(public_routes())
ADMIN_APP = create_admin_app(SimpleNamespace())  # type: ignore[arg-type]
ADMIN = operations(ADMIN_APP.routes) + operations(
    [route for router in admin_app.ROUTERS for route in router.routes]
)


def test_the_route_tables_are_read() -> None:
    assert ("PATCH", "/v1/me") in PUBLIC
    assert ("POST", "/authz/allowed") in PUBLIC
    assert ("PUT", "/admin/policies/x") in ADMIN
    assert ("POST", "/admin/gateway/reload") in ADMIN


def test_every_admin_router_is_in_the_table() -> None:
    """The admin app holds its own routes and the routers of admin_app.ROUTERS, no more."""
    included = [route for route in ADMIN_APP.routes if not isinstance(route, Route)]
    assert len(included) == len(admin_app.ROUTERS)


def test_every_open_route_is_still_a_route() -> None:
    """A stale entry would hide a renamed route from the check."""
    public_paths = {p for _, p in PUBLIC} | {"/openapi.json", "/docs"}
    admin_paths = {p for _, p in ADMIN}
    assert set(OPEN_PUBLIC) <= public_paths
    assert set(OPEN_ADMIN) <= admin_paths


def request(base: str, method: str, path: str, bad: str, **headers: Any) -> httpx.Response:
    media, body = BAD_BODIES[bad]
    return httpx.request(
        method,
        base + path,
        content=body,
        headers={"Content-Type": media, **headers},
        timeout=30,
    )


@pytest.mark.parametrize("bad", BAD_BODIES)
@pytest.mark.parametrize(("method", "path"), closed(PUBLIC, OPEN_PUBLIC))
def test_a_public_route_needing_a_credential_refuses_a_tokenless_request_first(
    server: AuthgateServer, method: str, path: str, bad: str
) -> None:
    answer = request(server.public, method, path, bad)
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("bad", BAD_BODIES)
@pytest.mark.parametrize(("method", "path"), closed(ADMIN, OPEN_ADMIN))
def test_an_admin_route_refuses_a_tokenless_request_first(
    server: AuthgateServer, method: str, path: str, bad: str
) -> None:
    answer = request(server.admin, method, path, bad)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "unauthorized"


@pytest.mark.parametrize(("method", "path"), closed(ADMIN, OPEN_ADMIN))
def test_an_admin_route_refuses_a_wrong_token_first(
    server: AuthgateServer, method: str, path: str
) -> None:
    answer = request(server.admin, method, path, "invalid_json", Authorization="Bearer wrong")
    assert answer.status_code == 401, answer.text
