"""The token endpoint, as RFC 6749 (3.2, 4.1.3, 4.4, 5, 6), RFC 7636, RFC 9068 and OIDC Core
describe it: every grant, every error case with its status, error code and headers."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import httpx
import jwt
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    REDIRECT_URI,
    RESOURCE_SCOPES,
    USER_SCOPE,
    assert_no_store,
    assert_oauth_error,
    client_token,
    code_tokens,
    half_hash,
    introspect,
    jose_parts,
    machine,
    obtain_code,
    person,
    pkce_pair,
    post_form,
    register,
    token_request,
    web_app,
)


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": RESOURCE_SCOPES})


@pytest.fixture(scope="module")
def robot(server: AuthgateServer) -> dict[str, Any]:
    return machine(server)


@pytest.fixture(scope="module")
def app(server: AuthgateServer) -> dict[str, Any]:
    return web_app(server)


@pytest.fixture(scope="module")
def spa(server: AuthgateServer) -> dict[str, Any]:
    """A public client: no secret, PKCE always."""
    return web_app(server, method="none")


@pytest.fixture(scope="module")
def alice(server: AuthgateServer) -> tuple[str, str]:
    return person(server, given_name="Alice")


def exchange(
    server: AuthgateServer, client: dict[str, Any] | None, code: str, verifier: str | None
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    return token_request(server, client, **form)


def refresh(
    server: AuthgateServer, client: dict[str, Any], refresh_token: str, **form: str
) -> httpx.Response:
    return token_request(
        server, client, grant_type="refresh_token", refresh_token=refresh_token, **form
    )


def verify_with_jwks(server: AuthgateServer, token: str, audience: str) -> dict[str, Any]:
    """Verified by PyJWT against the published JWKS only."""
    keys = jwt.PyJWKClient(f"{server.public}/.well-known/jwks.json")
    key = keys.get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=audience, issuer=server.public
    )
    return claims


# -- the request itself (RFC 6749 3.2) -------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_than_post_are_invalid_request(server: AuthgateServer, method: str) -> None:
    with server.public_client() as http:
        answer = http.request(method, "/oauth2/token")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.json()["error"] == "invalid_request"
    assert_no_store(answer)


def test_json_body_is_invalid_request(server: AuthgateServer, robot: dict[str, Any]) -> None:
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            json={"grant_type": "client_credentials"},
            auth=(robot["client_id"], robot["client_secret"]),
        )
    assert_oauth_error(answer, 400, "invalid_request")


def test_missing_grant_type_is_invalid_request(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    assert_oauth_error(token_request(server, robot), 400, "invalid_request")


def test_empty_grant_type_counts_as_missing(server: AuthgateServer, robot: dict[str, Any]) -> None:
    assert_oauth_error(token_request(server, robot, grant_type=""), 400, "invalid_request")


@pytest.mark.parametrize("grant", ["password", "implicit", "urn:example:unknown", "CODE"])
def test_unknown_grant_type_is_unsupported_grant_type(
    server: AuthgateServer, robot: dict[str, Any], grant: str
) -> None:
    answer = token_request(server, robot, grant_type=grant)
    assert_oauth_error(answer, 400, "unsupported_grant_type")


def test_repeated_parameter_is_invalid_request(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            content="grant_type=client_credentials&scope=orders:read&scope=orders:write",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=(robot["client_id"], robot["client_secret"]),
        )
    assert_oauth_error(answer, 400, "invalid_request")


def test_oversized_body_is_refused_before_parsing(server: AuthgateServer) -> None:
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            content="grant_type=client_credentials&x=" + "a" * 70_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert_oauth_error(answer, 413, "invalid_request")


# -- client authentication (RFC 6749 2.3, 5.2 invalid_client) --------------------------------


def test_no_client_authentication_is_invalid_client(server: AuthgateServer) -> None:
    answer = token_request(server, None, grant_type="client_credentials")
    assert_oauth_error(answer, 401, "invalid_client")


def test_wrong_basic_secret_is_invalid_client_with_basic_challenge(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    forged = {**robot, "client_secret": secrets.token_urlsafe(32)}
    answer = token_request(server, forged, grant_type="client_credentials")
    assert_oauth_error(answer, 401, "invalid_client")


def test_wrong_post_secret_is_invalid_client(server: AuthgateServer) -> None:
    poster = machine(server, "client_secret_post")
    forged = {**poster, "client_secret": secrets.token_urlsafe(32)}
    answer = token_request(server, forged, grant_type="client_credentials")
    assert_oauth_error(answer, 401, "invalid_client")


def test_unknown_client_is_invalid_client(server: AuthgateServer) -> None:
    stranger = {
        "client_id": "no-such-client",
        "client_secret": secrets.token_urlsafe(32),
        "token_endpoint_auth_method": "client_secret_basic",
    }
    answer = token_request(server, stranger, grant_type="client_credentials")
    assert_oauth_error(answer, 401, "invalid_client")


def test_basic_client_using_post_is_invalid_client(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    as_post = {**robot, "token_endpoint_auth_method": "client_secret_post"}
    answer = token_request(server, as_post, grant_type="client_credentials")
    assert_oauth_error(answer, 401, "invalid_client")


def test_post_client_using_basic_is_invalid_client(server: AuthgateServer) -> None:
    poster = machine(server, "client_secret_post")
    as_basic = {**poster, "token_endpoint_auth_method": "client_secret_basic"}
    answer = token_request(server, as_basic, grant_type="client_credentials")
    assert_oauth_error(answer, 401, "invalid_client")


def test_two_authentication_methods_at_once_are_invalid_request(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_secret": robot["client_secret"]},
            auth=(robot["client_id"], robot["client_secret"]),
        )
    assert_oauth_error(answer, 400, "invalid_request")


@pytest.mark.parametrize(
    "header", ["Basic", "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode()]
)
def test_malformed_basic_credentials_are_invalid_client(
    server: AuthgateServer, header: str
) -> None:
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": header},
        )
    assert_oauth_error(answer, 401, "invalid_client")


def test_bearer_scheme_is_not_client_authentication(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Bearer {robot['client_secret']}"},
        )
    assert_oauth_error(answer, 401, "invalid_client")


def test_basic_credentials_are_form_urldecoded(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    """RFC 6749 2.3.1: id and secret are form-urlencoded before they are joined."""
    encoded_id = "".join(f"%{b:02X}" for b in robot["client_id"].encode())
    encoded_secret = "".join(f"%{b:02X}" for b in robot["client_secret"].encode())
    pair = base64.b64encode(f"{encoded_id}:{encoded_secret}".encode()).decode()
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {pair}"},
        )
    assert answer.status_code == 200, answer.text


def test_confidential_client_naming_itself_only_is_invalid_client(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    as_public = {**robot, "token_endpoint_auth_method": "none"}
    answer = token_request(server, as_public, grant_type="client_credentials")
    assert_oauth_error(answer, 401, "invalid_client")


# -- client credentials (RFC 6749 4.4) -------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials_issue_a_bearer_token_and_nothing_else(
    server: AuthgateServer, method: str
) -> None:
    answer = token_request(server, machine(server, method), grant_type="client_credentials")
    assert answer.status_code == 200, answer.text
    assert_no_store(answer)
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    assert "refresh_token" not in body
    assert "id_token" not in body


def test_client_token_is_an_rfc9068_jwt_about_the_client(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    body = client_token(server, robot, scope="orders:read")
    header, claims = jose_parts(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["kid"]
    assert claims["iss"] == server.public
    assert claims["sub"] == robot["client_id"]
    assert claims["client_id"] == robot["client_id"]
    assert claims["aud"] == robot["client_id"]
    assert claims["scope"] == "orders:read"
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["jti"]
    assert "username" not in claims


def test_client_token_verifies_against_the_jwks_alone(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    token = client_token(server, robot)["access_token"]
    claims = verify_with_jwks(server, token, robot["client_id"])
    assert claims["sub"] == robot["client_id"]


def test_client_token_defaults_to_the_registered_scope_without_user_scopes(
    server: AuthgateServer,
) -> None:
    client = machine(server, scope="openid orders:read offline_access orders:write")
    body = client_token(server, client)
    assert body["scope"] == "orders:read orders:write"


def test_client_token_may_ask_for_a_subset_of_its_scope(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    body = client_token(server, robot, scope="orders:write")
    assert body["scope"] == "orders:write"
    assert jose_parts(body["access_token"])[1]["scope"] == "orders:write"


def test_declared_scope_the_client_lacks_is_invalid_scope(server: AuthgateServer) -> None:
    reader = machine(server, scope="orders:read")
    answer = token_request(server, reader, grant_type="client_credentials", scope="orders:write")
    assert_oauth_error(answer, 400, "invalid_scope")


def test_undeclared_scope_is_invalid_scope(server: AuthgateServer, robot: dict[str, Any]) -> None:
    answer = token_request(server, robot, grant_type="client_credentials", scope="admin:all")
    assert_oauth_error(answer, 400, "invalid_scope")


@pytest.mark.parametrize("scope", ["openid", "offline_access orders:read"])
def test_user_scopes_are_invalid_for_client_credentials(server: AuthgateServer, scope: str) -> None:
    client = machine(server, scope="openid offline_access orders:read")
    answer = token_request(server, client, grant_type="client_credentials", scope=scope)
    assert_oauth_error(answer, 400, "invalid_scope")


@pytest.mark.parametrize("scope", ['orders:read "x"', "orders:read\\", "orders:read  orders:write"])
def test_malformed_scope_is_invalid_scope(
    server: AuthgateServer, robot: dict[str, Any], scope: str
) -> None:
    answer = token_request(server, robot, grant_type="client_credentials", scope=scope)
    assert_oauth_error(answer, 400, "invalid_scope")


def test_registered_audiences_become_aud(server: AuthgateServer) -> None:
    one = machine(server, audience=["https://orders.example"])
    two = machine(server, audience=["https://orders.example", "https://billing.example"])
    assert jose_parts(client_token(server, one)["access_token"])[1]["aud"] == (
        "https://orders.example"
    )
    assert jose_parts(client_token(server, two)["access_token"])[1]["aud"] == [
        "https://orders.example",
        "https://billing.example",
    ]


def test_client_token_lifetime_is_per_client(server: AuthgateServer) -> None:
    short = machine(server, access_token_ttl=120)
    body = client_token(server, short)
    claims = jose_parts(body["access_token"])[1]
    assert body["expires_in"] == 120
    assert claims["exp"] == claims["iat"] + 120


def test_client_without_the_grant_is_unauthorized_client(
    server: AuthgateServer, app: dict[str, Any]
) -> None:
    answer = token_request(server, app, grant_type="client_credentials")
    assert_oauth_error(answer, 400, "unauthorized_client")


def test_public_client_cannot_use_client_credentials(
    server: AuthgateServer, spa: dict[str, Any]
) -> None:
    answer = token_request(server, spa, grant_type="client_credentials")
    assert_oauth_error(answer, 400, "unauthorized_client")


def test_opaque_client_gets_an_opaque_token_only_introspection_reads(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    opaque = machine(server, access_token_format="opaque")
    body = client_token(server, opaque, scope="orders:read")
    assert "." not in body["access_token"]
    assert len(body["access_token"]) >= 43  # 256 random bits, base64url
    seen = introspect(server, robot, body["access_token"])
    assert seen["active"] is True
    assert seen["client_id"] == opaque["client_id"]
    assert seen["scope"] == "orders:read"


# -- authorization code (RFC 6749 4.1.3, RFC 7636 4.5, OIDC Core 3.1.3) ----------------------


def test_code_flow_answers_access_id_and_refresh_tokens(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, app, alice[0], nonce="n-0S6_WzA2Mj")
    answer = exchange(server, app, code, verifier)
    assert answer.status_code == 200, answer.text
    assert_no_store(answer)
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == USER_SCOPE
    assert {"access_token", "id_token", "refresh_token"} <= body.keys()


def test_code_flow_access_token_carries_the_user_and_auth_time(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    before = int(time.time())
    body = code_tokens(server, app, alice[0])
    header, claims = jose_parts(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["sub"] == alice[1]
    assert claims["client_id"] == app["client_id"]
    assert claims["aud"] == app["client_id"]
    assert claims["scope"] == USER_SCOPE
    assert claims["token_use"] == "access"
    assert claims["auth_time"] >= before - 1
    assert claims["jti"]


def test_id_token_follows_oidc_core(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    body = code_tokens(server, app, alice[0], nonce="n-0S6_WzA2Mj")
    header, _ = jose_parts(body["id_token"])
    claims = verify_with_jwks(server, body["id_token"], app["client_id"])
    assert header["typ"] == "JWT"
    assert claims["sub"] == alice[1]
    assert claims["aud"] == app["client_id"]
    assert claims["azp"] == app["client_id"]
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["at_hash"] == half_hash(body["access_token"])
    assert isinstance(claims["auth_time"], int)
    assert claims["exp"] > claims["iat"]


def test_id_token_releases_claims_by_granted_scope(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    narrow = code_tokens(server, app, alice[0], scope="openid")
    wide = code_tokens(server, app, alice[0], scope="openid profile email")
    narrow_claims = jose_parts(narrow["id_token"])[1]
    wide_claims = jose_parts(wide["id_token"])[1]
    assert "email" not in narrow_claims
    assert "given_name" not in narrow_claims
    assert wide_claims["email"] == alice[0]
    assert wide_claims["email_verified"] is True
    assert wide_claims["given_name"] == "Alice"


def test_id_token_without_nonce_in_the_request_has_none(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    body = code_tokens(server, app, alice[0])
    assert "nonce" not in jose_parts(body["id_token"])[1]


def test_no_refresh_token_without_offline_access(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    body = code_tokens(server, app, alice[0], scope="openid profile")
    assert "refresh_token" not in body
    assert body["scope"] == "openid profile"


def test_no_id_token_without_openid(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    body = code_tokens(server, app, alice[0], scope="profile email")
    assert "id_token" not in body
    assert body["access_token"]


def test_public_client_redeems_with_its_client_id_and_verifier(
    server: AuthgateServer, spa: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, spa, alice[0])
    answer = exchange(server, spa, code, verifier)
    assert answer.status_code == 200, answer.text
    assert answer.json()["refresh_token"]


def test_unknown_public_client_is_invalid_client(
    server: AuthgateServer, spa: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, spa, alice[0])
    stranger = {"client_id": "no-such-client", "token_endpoint_auth_method": "none"}
    assert_oauth_error(exchange(server, stranger, code, verifier), 401, "invalid_client")


def test_replayed_code_is_invalid_grant(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, app, alice[0])
    assert exchange(server, app, code, verifier).status_code == 200
    assert_oauth_error(exchange(server, app, code, verifier), 400, "invalid_grant")


def test_replayed_code_revokes_the_access_token_it_issued(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, app, alice[0])
    first = exchange(server, app, code, verifier).json()
    exchange(server, app, code, verifier)
    assert introspect(server, app, first["access_token"]) == {"active": False}
    with server.public_client() as http:
        userinfo = http.get(
            "/oauth2/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
        )
    assert userinfo.status_code == 401


def test_replayed_code_revokes_the_refresh_family_it_started(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, app, alice[0])
    first = exchange(server, app, code, verifier).json()
    rotated = refresh(server, app, first["refresh_token"]).json()
    exchange(server, app, code, verifier)
    assert_oauth_error(refresh(server, app, rotated["refresh_token"]), 400, "invalid_grant")


def test_replayed_opaque_code_revokes_the_opaque_token(
    server: AuthgateServer, alice: tuple[str, str]
) -> None:
    opaque_app = web_app(server, access_token_format="opaque")
    code, verifier = obtain_code(server, opaque_app, alice[0])
    first = exchange(server, opaque_app, code, verifier).json()
    exchange(server, opaque_app, code, verifier)
    assert introspect(server, opaque_app, first["access_token"]) == {"active": False}


def test_wrong_verifier_is_invalid_grant_and_spends_the_code(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, app, alice[0])
    wrong, _ = pkce_pair()
    assert_oauth_error(exchange(server, app, code, wrong), 400, "invalid_grant")
    assert_oauth_error(exchange(server, app, code, verifier), 400, "invalid_grant")


def test_missing_verifier_is_invalid_grant(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, _ = obtain_code(server, app, alice[0])
    assert_oauth_error(exchange(server, app, code, None), 400, "invalid_grant")


@pytest.mark.parametrize("bad", ["short", "x" * 129, "has space " + "x" * 40])
def test_malformed_verifier_is_invalid_grant(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str], bad: str
) -> None:
    code, _ = obtain_code(server, app, alice[0])
    assert_oauth_error(exchange(server, app, code, bad), 400, "invalid_grant")


def test_the_challenge_itself_is_not_a_verifier(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    verifier, challenge = pkce_pair()
    code, _ = obtain_code(server, app, alice[0], challenge=challenge)
    assert_oauth_error(exchange(server, app, code, challenge), 400, "invalid_grant")


@pytest.mark.parametrize("uri", [REDIRECT_URI + "/", REDIRECT_URI.upper(), REDIRECT_URI + "?x=1"])
def test_redirect_uri_must_match_exactly(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str], uri: str
) -> None:
    code, verifier = obtain_code(server, app, alice[0])
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier or ""}
    answer = token_request(server, app, redirect_uri=uri, **form)
    assert_oauth_error(answer, 400, "invalid_grant")


def test_redirect_uri_may_be_left_out_when_only_one_is_registered(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, app, alice[0])
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier or ""}
    assert token_request(server, app, **form).status_code == 200


def test_redirect_uri_is_required_when_several_are_registered(
    server: AuthgateServer, alice: tuple[str, str]
) -> None:
    several = web_app(server, redirect_uris=[REDIRECT_URI, "http://127.0.0.1:9/other"])
    code, verifier = obtain_code(server, several, alice[0])
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier or ""}
    assert_oauth_error(token_request(server, several, **form), 400, "invalid_grant")


def test_code_of_another_client_is_invalid_grant(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    other = web_app(server)
    code, verifier = obtain_code(server, app, alice[0])
    assert_oauth_error(exchange(server, other, code, verifier), 400, "invalid_grant")


def test_code_tried_by_another_client_is_spent_for_its_owner(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    other = web_app(server)
    code, verifier = obtain_code(server, app, alice[0])
    exchange(server, other, code, verifier)
    assert_oauth_error(exchange(server, app, code, verifier), 400, "invalid_grant")


@pytest.mark.parametrize("code", ["unknown-code", "x" * 600])
def test_unknown_code_is_invalid_grant(
    server: AuthgateServer, app: dict[str, Any], code: str
) -> None:
    verifier, _ = pkce_pair()
    assert_oauth_error(exchange(server, app, code, verifier), 400, "invalid_grant")


def test_missing_code_is_invalid_request(server: AuthgateServer, app: dict[str, Any]) -> None:
    answer = token_request(server, app, grant_type="authorization_code", redirect_uri=REDIRECT_URI)
    assert_oauth_error(answer, 400, "invalid_request")


def test_client_without_the_code_grant_is_unauthorized_client(
    server: AuthgateServer, robot: dict[str, Any], app: dict[str, Any], alice: tuple[str, str]
) -> None:
    code, verifier = obtain_code(server, app, alice[0])
    assert_oauth_error(exchange(server, robot, code, verifier), 400, "unauthorized_client")


def test_confidential_client_that_opted_out_of_pkce_redeems_without_it(
    server: AuthgateServer, alice: tuple[str, str]
) -> None:
    legacy = web_app(server, require_pkce=False)
    code, _ = obtain_code(server, legacy, alice[0], pkce=False)
    assert exchange(server, legacy, code, None).status_code == 200


def test_verifier_for_a_code_without_challenge_is_invalid_grant(
    server: AuthgateServer, alice: tuple[str, str]
) -> None:
    legacy = web_app(server, require_pkce=False)
    code, _ = obtain_code(server, legacy, alice[0], pkce=False)
    verifier, _ = pkce_pair()
    assert_oauth_error(exchange(server, legacy, code, verifier), 400, "invalid_grant")


def test_code_of_a_user_disabled_since_is_invalid_grant(
    server: AuthgateServer, app: dict[str, Any]
) -> None:
    email, sub = person(server)
    code, verifier = obtain_code(server, app, email)
    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code in (200, 204)
    assert_oauth_error(exchange(server, app, code, verifier), 400, "invalid_grant")


def test_expired_code_is_invalid_grant(make_server: ServerFactory) -> None:
    brief = make_server(oauth={"code_ttl": "1s"})
    client = web_app(brief)
    email, _ = person(brief)
    code, verifier = obtain_code(brief, client, email)
    time.sleep(1.5)
    assert_oauth_error(exchange(brief, client, code, verifier), 400, "invalid_grant")


# -- refresh token (RFC 6749 6) --------------------------------------------------------------


@pytest.fixture
def signed_in(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> dict[str, Any]:
    return code_tokens(server, app, alice[0])


def test_refresh_rotates_and_answers_new_tokens(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    answer = refresh(server, app, signed_in["refresh_token"])
    assert answer.status_code == 200, answer.text
    assert_no_store(answer)
    body = answer.json()
    assert body["refresh_token"] != signed_in["refresh_token"]
    assert body["access_token"] != signed_in["access_token"]
    assert body["scope"] == USER_SCOPE
    assert body["token_type"] == "Bearer"
    assert body["id_token"]


def test_refreshed_id_token_keeps_auth_time_and_has_no_nonce(
    server: AuthgateServer, app: dict[str, Any], alice: tuple[str, str]
) -> None:
    first = code_tokens(server, app, alice[0], nonce="abc")
    body = refresh(server, app, first["refresh_token"]).json()
    before = jose_parts(first["id_token"])[1]
    after = jose_parts(body["id_token"])[1]
    assert after["auth_time"] == before["auth_time"]
    assert after["sub"] == before["sub"]
    assert after["at_hash"] == half_hash(body["access_token"])
    assert "nonce" not in after


def test_spent_refresh_token_is_invalid_grant_and_revokes_its_family(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    """Spent before the token last rotated (so outside the reuse interval's one repeat)."""
    rotated = refresh(server, app, signed_in["refresh_token"]).json()
    latest = refresh(server, app, rotated["refresh_token"]).json()
    assert_oauth_error(refresh(server, app, signed_in["refresh_token"]), 400, "invalid_grant")
    assert_oauth_error(refresh(server, app, latest["refresh_token"]), 400, "invalid_grant")


def test_refresh_token_of_another_client_is_invalid_grant_and_left_alone(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    other = web_app(server)
    assert_oauth_error(refresh(server, other, signed_in["refresh_token"]), 400, "invalid_grant")
    assert refresh(server, app, signed_in["refresh_token"]).status_code == 200


def test_refresh_may_narrow_the_scope(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    body = refresh(server, app, signed_in["refresh_token"], scope="openid email").json()
    assert body["scope"] == "openid email"
    assert jose_parts(body["access_token"])[1]["scope"] == "openid email"
    again = refresh(server, app, body["refresh_token"]).json()
    assert again["scope"] == USER_SCOPE  # the grant itself is not narrowed (RFC 6749 6)


def test_refresh_without_openid_has_no_id_token(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    body = refresh(server, app, signed_in["refresh_token"], scope="email").json()
    assert "id_token" not in body


def test_refresh_cannot_widen_the_scope_and_keeps_the_token_usable(
    server: AuthgateServer, alice: tuple[str, str]
) -> None:
    client = web_app(server, scope=USER_SCOPE + " phone")
    first = code_tokens(server, client, alice[0])
    answer = refresh(server, client, first["refresh_token"], scope="openid phone")
    assert_oauth_error(answer, 400, "invalid_scope")
    assert refresh(server, client, first["refresh_token"]).status_code == 200


def test_unknown_refresh_token_is_invalid_grant(
    server: AuthgateServer, app: dict[str, Any]
) -> None:
    assert_oauth_error(refresh(server, app, secrets.token_urlsafe(32)), 400, "invalid_grant")


def test_access_token_is_not_a_refresh_token(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    answer = refresh(server, app, signed_in["access_token"])
    assert_oauth_error(answer, 400, "invalid_grant")


def test_missing_refresh_token_is_invalid_request(
    server: AuthgateServer, app: dict[str, Any]
) -> None:
    assert_oauth_error(
        token_request(server, app, grant_type="refresh_token"), 400, "invalid_request"
    )


def test_client_without_the_refresh_grant_is_unauthorized_client(
    server: AuthgateServer, robot: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    answer = refresh(server, robot, signed_in["refresh_token"])
    assert_oauth_error(answer, 400, "unauthorized_client")


def test_public_client_refreshes_with_its_client_id(
    server: AuthgateServer, spa: dict[str, Any], alice: tuple[str, str]
) -> None:
    first = code_tokens(server, spa, alice[0])
    assert refresh(server, spa, first["refresh_token"]).status_code == 200


def test_oauth_refresh_token_cannot_skip_client_authentication_via_the_pool_api(
    server: AuthgateServer, signed_in: dict[str, Any]
) -> None:
    """/v1/token/refresh takes no client credentials: it refreshes password sign-ins only."""
    with server.public_client() as http:
        answer = http.post("/v1/token/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


def test_disabled_users_refresh_token_is_invalid_grant(
    server: AuthgateServer, app: dict[str, Any]
) -> None:
    email, sub = person(server)
    first = code_tokens(server, app, email)
    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code in (200, 204)
    assert_oauth_error(refresh(server, app, first["refresh_token"]), 400, "invalid_grant")


def test_client_id_in_body_must_match_basic_credentials(
    server: AuthgateServer, robot: dict[str, Any]
) -> None:
    answer = post_form(
        server, "/oauth2/token", robot, grant_type="client_credentials", client_id="someone-else"
    )
    assert_oauth_error(answer, 400, "invalid_request")


def test_registered_client_sees_its_lifetimes_honoured_in_code_flow(
    server: AuthgateServer, alice: tuple[str, str]
) -> None:
    quick = register(
        server,
        grant_types=["authorization_code"],
        redirect_uris=[REDIRECT_URI],
        scope="openid",
        first_party=True,
        access_token_ttl=300,
    )
    body = code_tokens(server, quick, alice[0], scope="openid")
    assert body["expires_in"] == 300
