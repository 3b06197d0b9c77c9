"""Ending a sign-in ends its access tokens too: revoking a refresh token (RFC 7009 2.1), a
replayed refresh token or code, taking a consent back, and changing the password (which
ends every sign-in but the one that changed it, ASVS 3.3.3). A dead access token is refused
by introspection, userinfo, /v1/me, the gate and the decision API alike; the sign-ins left
alone keep working."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.browser import Browser, answer_of, code_request, create_client
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    PASSWORD,
    REDIRECT_URI,
    RESOURCE_SCOPES,
    assert_oauth_error,
    client_token,
    code_tokens,
    introspect,
    machine,
    obtain_code,
    person,
    post_form,
    token_request,
    web_app,
)

PROXY = "127.0.0.2"
NEW_PASSWORD = "a brand 9 new passphrase"
GATEWAY = {
    "trusted_proxies": [f"{PROXY}/32"],
    "upstreams": {"api": {"targets": ["http://127.0.0.1:9"]}},
    "routes": [
        {
            "name": "api",
            "path": "/api/**",
            "upstream": "api",
            "authenticate": ["jwt", "introspection"],
            "authorize": "allow",
        }
    ],
}


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=GATEWAY)


@pytest.fixture(scope="module")
def resource(server: AuthgateServer) -> dict[str, Any]:
    """A resource server that introspects, and may ask the decision API."""
    return machine(server, "client_secret_post", scope="authgate:decide orders:read")


@pytest.fixture(scope="module")
def decider(server: AuthgateServer, resource: dict[str, Any]) -> str:
    return str(client_token(server, resource, scope="authgate:decide")["access_token"])


@pytest.fixture(scope="module")
def app(server: AuthgateServer) -> dict[str, Any]:
    return web_app(server)


@pytest.fixture(scope="module")
def proxy(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.public_client(local_address=PROXY) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def where_refused(
    server: AuthgateServer,
    resource: dict[str, Any],
    decider: str,
    proxy: httpx.Client,
    token: str,
) -> set[str]:
    """The places that refuse `token`: none for a live one, all five for a dead one."""
    refused = set()
    if introspect(server, resource, token) == {"active": False}:
        refused.add("introspection")
    with server.public_client() as http:
        if http.get("/oauth2/userinfo", headers=bearer(token)).status_code == 401:
            refused.add("userinfo")
        if http.get("/v1/me", headers=bearer(token)).status_code == 401:
            refused.add("me")
        asked = http.post(
            "/authz/allowed",
            json={"token": token, "action": "read", "resource": "r"},
            headers=bearer(decider),
        )
    assert asked.status_code == 200, asked.text
    if asked.json()["reason"] == "invalid_token":
        refused.add("decision")
    gate = proxy.get(
        "/_authgate/forward",
        headers={
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "api.example.com",
            "X-Forwarded-Uri": "/api/orders",
            **bearer(token),
        },
    )
    assert gate.status_code in (200, 401), gate.text
    if gate.status_code == 401:
        refused.add("gate")
    return refused


EVERYWHERE = {"introspection", "userinfo", "me", "decision", "gate"}


@pytest.fixture
def refused(
    server: AuthgateServer, resource: dict[str, Any], decider: str, proxy: httpx.Client
) -> Any:
    def check(token: str) -> set[str]:
        return where_refused(server, resource, decider, proxy, token)

    return check


def refresh(server: AuthgateServer, client: dict[str, Any], token: str) -> httpx.Response:
    return token_request(server, client, grant_type="refresh_token", refresh_token=token)


def revoke(server: AuthgateServer, client: dict[str, Any], token: str, **form: str) -> Any:
    return post_form(server, "/oauth2/revoke", client, token=token, **form)


# -- revoking a refresh token (RFC 7009 2.1) --------------------------------------------------


def test_a_live_access_token_is_accepted_everywhere(
    server: AuthgateServer, app: dict[str, Any], refused: Any
) -> None:
    email, _ = person(server)
    assert refused(code_tokens(server, app, email)["access_token"]) == set()


def test_revoking_a_refresh_token_denies_the_access_token_issued_with_it(
    server: AuthgateServer, app: dict[str, Any], refused: Any
) -> None:
    email, _ = person(server)
    tokens = code_tokens(server, app, email)
    assert revoke(server, app, tokens["refresh_token"]).status_code == 200
    assert refused(tokens["access_token"]) == EVERYWHERE


def test_revoking_a_refresh_token_denies_every_access_token_of_its_family(
    server: AuthgateServer, app: dict[str, Any], refused: Any
) -> None:
    email, _ = person(server)
    first = code_tokens(server, app, email)
    second = refresh(server, app, first["refresh_token"]).json()
    third = refresh(server, app, second["refresh_token"]).json()
    assert revoke(server, app, third["refresh_token"]).status_code == 200
    for tokens in (first, second, third):
        assert refused(tokens["access_token"]) == EVERYWHERE


def test_revoking_a_spent_refresh_token_of_a_live_family_denies_it_too(
    server: AuthgateServer, app: dict[str, Any], refused: Any
) -> None:
    email, _ = person(server)
    first = code_tokens(server, app, email)
    second = refresh(server, app, first["refresh_token"]).json()
    assert revoke(server, app, first["refresh_token"]).status_code == 200
    assert refused(second["access_token"]) == EVERYWHERE
    assert_oauth_error(refresh(server, app, second["refresh_token"]), 400, "invalid_grant")


def test_revoking_one_sign_in_leaves_the_users_other_sign_ins_alone(
    server: AuthgateServer, app: dict[str, Any], refused: Any
) -> None:
    email, _ = person(server)
    ended, kept = code_tokens(server, app, email), code_tokens(server, app, email)
    assert revoke(server, app, ended["refresh_token"]).status_code == 200
    assert refused(kept["access_token"]) == set()
    assert refresh(server, app, kept["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_denies_opaque_access_tokens_of_its_family(
    server: AuthgateServer, resource: dict[str, Any]
) -> None:
    opaque = web_app(server, access_token_format="opaque")
    email, _ = person(server)
    tokens = code_tokens(server, opaque, email)
    assert introspect(server, resource, tokens["access_token"])["active"] is True
    assert revoke(server, opaque, tokens["refresh_token"]).status_code == 200
    assert introspect(server, resource, tokens["access_token"]) == {"active": False}


def test_unknown_tokens_still_answer_200(server: AuthgateServer, app: dict[str, Any]) -> None:
    assert revoke(server, app, "no-such-token", token_type_hint="refresh_token").status_code == 200


def test_logging_out_at_the_pool_api_denies_the_sign_ins_access_tokens(
    server: AuthgateServer, refused: Any
) -> None:
    email, _ = person(server)
    tokens = pool_sign_in(server, email)
    with server.public_client() as http:
        assert http.post("/v1/logout", json={"refresh_token": tokens["refresh_token"]}).is_success
    assert refused(tokens["access_token"]) == EVERYWHERE


# -- the other ways a sign-in ends ------------------------------------------------------------


def test_a_replayed_refresh_token_denies_the_access_tokens_of_its_family(
    make_server: ServerFactory,
) -> None:
    strict = make_server(tokens={"refresh_reuse_interval": 0}, oauth={"scopes": RESOURCE_SCOPES})
    app, resource = web_app(strict), machine(strict, "client_secret_post")
    email, _ = person(strict)
    first = code_tokens(strict, app, email)
    second = refresh(strict, app, first["refresh_token"]).json()
    assert_oauth_error(refresh(strict, app, first["refresh_token"]), 400, "invalid_grant")
    assert introspect(strict, resource, second["access_token"]) == {"active": False}
    assert introspect(strict, resource, first["access_token"]) == {"active": False}


def test_a_replayed_code_denies_the_access_tokens_its_family_issued_since(
    server: AuthgateServer, app: dict[str, Any], refused: Any
) -> None:
    email, _ = person(server)
    code, verifier = obtain_code(server, app, email)
    exchange = {"code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier or ""}
    first = token_request(server, app, grant_type="authorization_code", **exchange).json()
    later = refresh(server, app, first["refresh_token"]).json()
    replay = token_request(server, app, grant_type="authorization_code", **exchange)
    assert_oauth_error(replay, 400, "invalid_grant")
    assert refused(later["access_token"]) == EVERYWHERE


def test_taking_a_consent_back_denies_that_clients_access_tokens(
    server: AuthgateServer, refused: Any
) -> None:
    third_party, other = web_app(server, first_party=False), web_app(server, first_party=False)
    email, _ = person(server)
    taken_back = code_tokens(server, third_party, email)
    kept = code_tokens(server, other, email)
    with server.public_client() as http:
        answer = http.delete(
            f"/v1/me/consents/{third_party['client_id']}", headers=bearer(kept["access_token"])
        )
    assert answer.status_code == 204
    assert refused(taken_back["access_token"]) == EVERYWHERE
    assert refused(kept["access_token"]) == set()


# -- changing the password ends the other sign-ins (ASVS 3.3.3) ------------------------------


def change_password(server: AuthgateServer, access_token: str) -> httpx.Response:
    with server.public_client() as http:
        return http.post(
            "/v1/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=bearer(access_token),
        )


def test_a_password_change_ends_the_users_other_sign_ins(
    server: AuthgateServer, app: dict[str, Any], refused: Any
) -> None:
    email, _ = person(server)
    here = pool_sign_in(server, email)
    elsewhere = pool_sign_in(server, email)
    at_an_app = code_tokens(server, app, email)
    assert change_password(server, here["access_token"]).status_code == 200
    for other in (elsewhere, at_an_app):
        assert refused(other["access_token"]) == EVERYWHERE
    with server.public_client() as http:
        assert refresh_at_pool(http, elsewhere["refresh_token"]).status_code == 401
    assert_oauth_error(refresh(server, app, at_an_app["refresh_token"]), 400, "invalid_grant")


def test_a_password_change_keeps_the_sign_in_that_made_it(
    server: AuthgateServer, refused: Any
) -> None:
    email, _ = person(server)
    here = pool_sign_in(server, email)
    assert change_password(server, here["access_token"]).status_code == 200
    assert refused(here["access_token"]) == set()
    with server.public_client() as http:
        renewed = refresh_at_pool(http, here["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert refused(renewed.json()["access_token"]) == set()


def test_a_password_change_keeps_earlier_access_tokens_of_the_same_sign_in(
    server: AuthgateServer, refused: Any
) -> None:
    email, _ = person(server)
    first = pool_sign_in(server, email)
    with server.public_client() as http:
        second = refresh_at_pool(http, first["refresh_token"]).json()
    assert change_password(server, second["access_token"]).status_code == 200
    assert refused(first["access_token"]) == set()


def test_a_password_change_ends_other_browsers_hosted_sessions(server: AuthgateServer) -> None:
    email, _ = person(server)
    client = create_client(server, first_party=True)
    with Browser(server) as browser:
        assert "code" in answer_of(
            browser.to_client(code_request(client), email).headers["location"]
        )
        here = pool_sign_in(server, email)
        assert change_password(server, here["access_token"]).status_code == 200
        silent = browser.authorize(code_request(client, prompt="none"))
        assert answer_of(silent.headers["location"]).get("error") == "login_required"


def test_a_password_change_with_a_token_outside_any_family_ends_every_other_sign_in(
    server: AuthgateServer, refused: Any
) -> None:
    """A code flow without offline_access has no refresh token: only that token is kept."""
    short = web_app(server, scope="openid email")
    email, _ = person(server)
    no_refresh = code_tokens(server, short, email, scope="openid email")
    assert "refresh_token" not in no_refresh
    other = pool_sign_in(server, email)
    assert change_password(server, no_refresh["access_token"]).status_code == 200
    assert refused(no_refresh["access_token"]) == set()
    assert refused(other["access_token"]) == EVERYWHERE


def test_a_refused_password_change_ends_nothing(server: AuthgateServer, refused: Any) -> None:
    email, _ = person(server)
    here, elsewhere = pool_sign_in(server, email), pool_sign_in(server, email)
    with server.public_client() as http:
        wrong = http.post(
            "/v1/me/password",
            json={"current_password": "not the 1 password", "new_password": NEW_PASSWORD},
            headers=bearer(here["access_token"]),
        )
    assert wrong.status_code == 401
    assert refused(elsewhere["access_token"]) == set()


def test_a_refresh_racing_a_password_change_leaves_no_live_access_token(
    server: AuthgateServer, refused: Any
) -> None:
    """Whichever commits first, the other sign-in ends up with nothing that works."""
    email, _ = person(server)
    here, elsewhere = pool_sign_in(server, email), pool_sign_in(server, email)
    barrier = threading.Barrier(2)
    renewed: list[httpx.Response] = []

    def change() -> None:
        barrier.wait()
        assert change_password(server, here["access_token"]).status_code == 200

    def renew() -> None:
        with server.public_client() as http:
            barrier.wait()
            renewed.append(refresh_at_pool(http, elsewhere["refresh_token"]))

    threads = [threading.Thread(target=change), threading.Thread(target=renew)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if renewed[0].status_code == 200:
        assert refused(renewed[0].json()["access_token"]) == EVERYWHERE
    assert refused(elsewhere["access_token"]) == EVERYWHERE


def pool_sign_in(server: AuthgateServer, email: str) -> dict[str, Any]:
    with server.public_client() as http:
        answer = http.post("/v1/login", json={"username": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def refresh_at_pool(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/v1/token/refresh", json={"refresh_token": token})
