"""Introspection (RFC 7662) and revocation (RFC 7009), and the deny list behind them: a
revoked access token stops working at introspection, userinfo and /v1/me, on this replica
at once and on another within seconds."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    PASSWORD,
    RESOURCE_SCOPES,
    USER_SCOPE,
    assert_no_store,
    assert_oauth_error,
    client_token,
    code_tokens,
    introspect,
    jose_parts,
    machine,
    person,
    post_form,
    token_request,
    web_app,
)


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": RESOURCE_SCOPES})


@pytest.fixture(scope="module")
def resource(server: AuthgateServer) -> dict[str, Any]:
    """A resource server: a confidential client that introspects what it is shown."""
    return machine(server, "client_secret_post")


@pytest.fixture(scope="module")
def app(server: AuthgateServer) -> dict[str, Any]:
    return web_app(server)


@pytest.fixture(scope="module")
def alice(server: AuthgateServer) -> tuple[str, str]:
    return person(server)


@pytest.fixture
def signed_in(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> dict[str, Any]:
    return code_tokens(server, app, alice[0])


def revoke(
    server: AuthgateServer, client: dict[str, Any] | None, token: str, **form: str
) -> httpx.Response:
    return post_form(server, "/oauth2/revoke", client, token=token, **form)


def userinfo(server: AuthgateServer, access_token: str) -> httpx.Response:
    with server.public_client() as http:
        return http.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def me(server: AuthgateServer, access_token: str) -> httpx.Response:
    with server.public_client() as http:
        return http.get("/v1/me", headers={"Authorization": f"Bearer {access_token}"})


def refresh(server: AuthgateServer, client: dict[str, Any], token: str) -> httpx.Response:
    return token_request(server, client, grant_type="refresh_token", refresh_token=token)


# -- introspection: who may ask ---------------------------------------------------------------


def test_introspection_without_client_authentication_is_invalid_client(
    server: AuthgateServer, resource: dict[str, Any]
) -> None:
    token = client_token(server, resource)["access_token"]
    answer = post_form(server, "/oauth2/introspect", None, token=token)
    assert_oauth_error(answer, 401, "invalid_client")


def test_introspection_with_a_wrong_secret_is_invalid_client(
    server: AuthgateServer, resource: dict[str, Any]
) -> None:
    token = client_token(server, resource)["access_token"]
    forged = {**resource, "client_secret": secrets.token_urlsafe(32)}
    answer = post_form(server, "/oauth2/introspect", forged, token=token)
    assert_oauth_error(answer, 401, "invalid_client")


def test_public_client_may_not_introspect(server: AuthgateServer, resource: dict[str, Any]) -> None:
    spa = web_app(server, method="none")
    token = client_token(server, resource)["access_token"]
    answer = post_form(server, "/oauth2/introspect", spa, token=token)
    assert_oauth_error(answer, 401, "invalid_client")


def test_introspection_without_token_is_invalid_request(
    server: AuthgateServer, resource: dict[str, Any]
) -> None:
    answer = post_form(server, "/oauth2/introspect", resource)
    assert_oauth_error(answer, 400, "invalid_request")


def test_introspection_is_post_only(server: AuthgateServer) -> None:
    with server.public_client() as http:
        answer = http.get("/oauth2/introspect")
    assert answer.status_code == 405
    assert answer.json()["error"] == "invalid_request"


def test_introspection_refuses_json(server: AuthgateServer, resource: dict[str, Any]) -> None:
    with server.public_client() as http:
        answer = http.post("/oauth2/introspect", json={"token": "x", **resource})
    assert_oauth_error(answer, 400, "invalid_request")


# -- introspection: active tokens -------------------------------------------------------------


def test_active_user_access_token_has_the_standard_fields(
    server: AuthgateServer,
    resource: dict[str, Any],
    app: dict[str, Any],
    alice: tuple[str, str],
    signed_in: dict[str, Any],
) -> None:
    answer = post_form(server, "/oauth2/introspect", resource, token=signed_in["access_token"])
    assert answer.status_code == 200
    assert_no_store(answer)
    body = answer.json()
    claims = jose_parts(signed_in["access_token"])[1]
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["scope"] == USER_SCOPE
    assert body["client_id"] == app["client_id"]
    assert body["username"] == alice[0]
    assert body["sub"] == alice[1]
    assert body["aud"] == app["client_id"]
    assert body["iss"] == server.public
    assert body["exp"] == claims["exp"]
    assert body["iat"] == claims["iat"]
    assert body["jti"] == claims["jti"]


def test_any_authenticated_client_may_introspect_another_clients_token(
    server: AuthgateServer, resource: dict[str, Any]
) -> None:
    """As Ory Hydra: the resource server that receives a token is not the client it was for."""
    other = machine(server)
    token = client_token(server, other)["access_token"]
    body = introspect(server, resource, token)
    assert body["active"] is True
    assert body["client_id"] == other["client_id"]
    assert body["sub"] == other["client_id"]
    assert "username" not in body


def test_active_refresh_token_is_described_as_one(
    server: AuthgateServer,
    resource: dict[str, Any],
    app: dict[str, Any],
    alice: tuple[str, str],
    signed_in: dict[str, Any],
) -> None:
    body = introspect(server, resource, signed_in["refresh_token"])
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["scope"] == USER_SCOPE
    assert body["client_id"] == app["client_id"]
    assert body["sub"] == alice[1]
    assert body["exp"] > time.time()


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "no_such_hint"])
def test_hints_are_only_hints(
    server: AuthgateServer, resource: dict[str, Any], signed_in: dict[str, Any], hint: str
) -> None:
    access = introspect(server, resource, signed_in["access_token"], token_type_hint=hint)
    refresh_ = introspect(server, resource, signed_in["refresh_token"], token_type_hint=hint)
    assert access["token_type"] == "Bearer"
    assert refresh_["token_type"] == "refresh_token"


def test_opaque_access_token_is_active_with_its_claims(
    server: AuthgateServer, resource: dict[str, Any], alice: tuple[str, str]
) -> None:
    opaque_app = web_app(server, access_token_format="opaque")
    tokens = code_tokens(server, opaque_app, alice[0])
    body = introspect(server, resource, tokens["access_token"])
    assert body["active"] is True
    assert body["sub"] == alice[1]
    assert body["client_id"] == opaque_app["client_id"]
    assert body["scope"] == USER_SCOPE
    assert body["token_type"] == "Bearer"


# -- introspection: inactive tokens say nothing else -------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        # a fresh token each run, under an id that every pytest-xdist worker collects alike
        pytest.param(secrets.token_urlsafe(32), id="random-token"),
        "x" * 9000,
    ],
)
def test_malformed_or_unknown_tokens_are_inactive(
    server: AuthgateServer, resource: dict[str, Any], token: str
) -> None:
    assert introspect(server, resource, token) == {"active": False}


def test_id_token_is_inactive(
    server: AuthgateServer, resource: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    assert introspect(server, resource, signed_in["id_token"]) == {"active": False}


def test_spent_refresh_token_is_inactive(
    server: AuthgateServer, resource: dict[str, Any], app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    assert refresh(server, app, signed_in["refresh_token"]).status_code == 200
    assert introspect(server, resource, signed_in["refresh_token"]) == {"active": False}


def test_expired_access_token_is_inactive(server: AuthgateServer, resource: dict[str, Any]) -> None:
    fleeting = machine(server, access_token_ttl=1)
    token = client_token(server, fleeting)["access_token"]
    time.sleep(2.1)
    assert introspect(server, resource, token) == {"active": False}


def test_expired_opaque_token_is_inactive(server: AuthgateServer, resource: dict[str, Any]) -> None:
    fleeting = machine(server, access_token_ttl=1, access_token_format="opaque")
    token = client_token(server, fleeting)["access_token"]
    time.sleep(2.1)
    assert introspect(server, resource, token) == {"active": False}


def test_tokens_of_a_disabled_user_are_inactive(
    server: AuthgateServer, resource: dict[str, Any], app: dict[str, Any]
) -> None:
    email, sub = person(server)
    tokens = code_tokens(server, app, email)
    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
    assert introspect(server, resource, tokens["access_token"]) == {"active": False}
    assert introspect(server, resource, tokens["refresh_token"]) == {"active": False}


def test_tokens_from_before_sign_out_everywhere_are_inactive(
    server: AuthgateServer, resource: dict[str, Any], app: dict[str, Any]
) -> None:
    email, sub = person(server)
    tokens = code_tokens(server, app, email)
    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/sign-out").status_code in (200, 204)
    assert introspect(server, resource, tokens["access_token"]) == {"active": False}
    assert introspect(server, resource, tokens["refresh_token"]) == {"active": False}


def test_token_of_a_deleted_client_is_inactive(
    server: AuthgateServer, resource: dict[str, Any]
) -> None:
    doomed = machine(server)
    token = client_token(server, doomed)["access_token"]
    with server.admin_client() as admin:
        assert admin.delete(f"/admin/clients/{doomed['client_id']}").status_code in (200, 204)
    assert introspect(server, resource, token) == {"active": False}


# -- revocation: who may ask -------------------------------------------------------------------


def test_revocation_without_client_authentication_is_invalid_client(
    server: AuthgateServer, signed_in: dict[str, Any]
) -> None:
    answer = revoke(server, None, signed_in["refresh_token"])
    assert_oauth_error(answer, 401, "invalid_client")


def test_revocation_with_a_wrong_secret_is_invalid_client(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    forged = {**app, "client_secret": secrets.token_urlsafe(32)}
    answer = revoke(server, forged, signed_in["refresh_token"])
    assert_oauth_error(answer, 401, "invalid_client")
    assert refresh(server, app, signed_in["refresh_token"]).status_code == 200


def test_revocation_without_token_is_invalid_request(
    server: AuthgateServer, app: dict[str, Any]
) -> None:
    answer = post_form(server, "/oauth2/revoke", app)
    assert_oauth_error(answer, 400, "invalid_request")


def test_revocation_is_post_only(server: AuthgateServer) -> None:
    with server.public_client() as http:
        answer = http.get("/oauth2/revoke")
    assert answer.status_code == 405
    assert answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", pytest.param(secrets.token_urlsafe(32), id="random-token")]
)
def test_revoking_an_unknown_token_answers_200(
    server: AuthgateServer, app: dict[str, Any], token: str
) -> None:
    answer = revoke(server, app, token)
    assert answer.status_code == 200
    assert_no_store(answer)


# -- revocation: refresh tokens ----------------------------------------------------------------


def test_revoking_a_refresh_token_revokes_its_family(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    rotated = refresh(server, app, signed_in["refresh_token"]).json()
    assert revoke(server, app, signed_in["refresh_token"]).status_code == 200
    assert_oauth_error(refresh(server, app, rotated["refresh_token"]), 400, "invalid_grant")


def test_revoked_refresh_token_is_invalid_grant_and_inactive(
    server: AuthgateServer, resource: dict[str, Any], app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    revoke(server, app, signed_in["refresh_token"], token_type_hint="refresh_token")
    assert_oauth_error(refresh(server, app, signed_in["refresh_token"]), 400, "invalid_grant")
    assert introspect(server, resource, signed_in["refresh_token"]) == {"active": False}


def test_revoking_another_clients_refresh_token_is_refused_and_changes_nothing(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    """RFC 7009 2.1: the server checks the token was issued to the revoking client."""
    other = web_app(server)
    answer = revoke(server, other, signed_in["refresh_token"])
    assert_oauth_error(answer, 400, "unauthorized_client")
    assert refresh(server, app, signed_in["refresh_token"]).status_code == 200


def test_unknown_hint_does_not_stop_a_revocation(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    answer = revoke(server, app, signed_in["refresh_token"], token_type_hint="bogus_token")
    assert answer.status_code == 200
    assert_oauth_error(refresh(server, app, signed_in["refresh_token"]), 400, "invalid_grant")


def test_public_client_revokes_its_own_refresh_token(
    server: AuthgateServer, alice: tuple[str, str]
) -> None:
    spa = web_app(server, method="none")
    tokens = code_tokens(server, spa, alice[0])
    assert revoke(server, spa, tokens["refresh_token"]).status_code == 200
    assert_oauth_error(refresh(server, spa, tokens["refresh_token"]), 400, "invalid_grant")


# -- revocation: access tokens and the deny list -----------------------------------------------


def test_revoked_jwt_access_token_is_inactive_at_introspection(
    server: AuthgateServer, resource: dict[str, Any], app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    answer = revoke(server, app, signed_in["access_token"], token_type_hint="access_token")
    assert answer.status_code == 200
    assert introspect(server, resource, signed_in["access_token"]) == {"active": False}


def test_revoked_jwt_access_token_is_refused_at_userinfo(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    assert userinfo(server, signed_in["access_token"]).status_code == 200
    revoke(server, app, signed_in["access_token"])
    answer = userinfo(server, signed_in["access_token"])
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_revoked_jwt_access_token_is_refused_at_v1_me(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    assert me(server, signed_in["access_token"]).status_code == 200
    revoke(server, app, signed_in["access_token"])
    answer = me(server, signed_in["access_token"])
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


def test_revoking_an_access_token_leaves_its_refresh_token_alone(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    revoke(server, app, signed_in["access_token"])
    assert refresh(server, app, signed_in["refresh_token"]).status_code == 200


def test_revoking_another_clients_access_token_is_refused_and_changes_nothing(
    server: AuthgateServer, resource: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    other = web_app(server)
    assert_oauth_error(revoke(server, other, signed_in["access_token"]), 400, "unauthorized_client")
    assert introspect(server, resource, signed_in["access_token"])["active"] is True


def test_revoking_a_client_credentials_token(
    server: AuthgateServer, resource: dict[str, Any]
) -> None:
    robot = machine(server)
    token = client_token(server, robot)["access_token"]
    assert revoke(server, robot, token).status_code == 200
    assert introspect(server, resource, token) == {"active": False}


def test_revoking_twice_answers_200_both_times(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    assert revoke(server, app, signed_in["access_token"]).status_code == 200
    assert revoke(server, app, signed_in["access_token"]).status_code == 200


def test_revoked_opaque_access_token_is_inactive_and_refused_at_userinfo(
    server: AuthgateServer, resource: dict[str, Any], alice: tuple[str, str]
) -> None:
    opaque_app = web_app(server, access_token_format="opaque")
    tokens = code_tokens(server, opaque_app, alice[0])
    assert userinfo(server, tokens["access_token"]).status_code == 200
    assert revoke(server, opaque_app, tokens["access_token"]).status_code == 200
    assert introspect(server, resource, tokens["access_token"]) == {"active": False}
    assert userinfo(server, tokens["access_token"]).status_code == 401


def test_pool_login_token_is_revocable_by_the_default_public_client(
    server: AuthgateServer, alice: tuple[str, str]
) -> None:
    with server.public_client() as http:
        tokens = http.post("/v1/login", json={"username": alice[0], "password": PASSWORD}).json()
    default = {"client_id": "default", "token_endpoint_auth_method": "none"}
    assert revoke(server, default, tokens["access_token"]).status_code == 200
    assert me(server, tokens["access_token"]).status_code == 401


# -- a second replica on the same database -----------------------------------------------------


@pytest.fixture(scope="module")
def replicas(
    make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthgateServer, AuthgateServer]]:
    first = make_server()
    shared = {
        "issuer": first.public,
        "secrets": {"key_encryption_key": f"file:{first.data_dir / 'kek'}"},
        "admin": {"token": f"file:{first.data_dir / 'admin-token'}"},
    }
    workdir: Path = tmp_path_factory.mktemp("replica")
    second = AuthgateServer(workdir, first.database_url, shared).start()
    yield first, second
    second.stop()


def eventually_refused(server: AuthgateServer, access_token: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if me(server, access_token).status_code == 401:
            return True
        time.sleep(0.1)
    return False


def test_revocation_on_one_replica_reaches_the_other_within_five_seconds(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    email, _ = person(first)
    with first.public_client() as http:
        tokens = http.post("/v1/login", json={"username": email, "password": PASSWORD}).json()
    assert me(second, tokens["access_token"]).status_code == 200
    default = {"client_id": "default", "token_endpoint_auth_method": "none"}
    assert revoke(first, default, tokens["access_token"]).status_code == 200
    assert me(first, tokens["access_token"]).status_code == 401
    assert eventually_refused(second, tokens["access_token"], within=5.0)
