"""UserInfo (OIDC Core 5.3, errors per RFC 6750 §3) and discovery (OIDC Discovery 1.0,
RFC 8414)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    RESOURCE_SCOPES,
    assert_no_store,
    client_token,
    code_tokens,
    machine,
    person,
    web_app,
)

ATTRIBUTES = {
    "given_name": "Grace",
    "family_name": "Hopper",
    "locale": "en-US",
    "phone_number": "+15555550100",
    "custom:tenant": "navy",
}
ALL_SCOPES = "openid profile email phone tenant"


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        user_pool={"custom_attributes": {"tenant": {"type": "string"}}},
        oauth={
            "scopes": {**RESOURCE_SCOPES, "tenant": "Your tenant"},
            "attribute_scopes": {"tenant": ["custom:tenant"]},
        },
    )


@pytest.fixture(scope="module")
def app(server: AuthgateServer) -> dict[str, Any]:
    return web_app(server, scope=f"{ALL_SCOPES} offline_access")


@pytest.fixture(scope="module")
def grace(server: AuthgateServer) -> tuple[str, str]:
    return person(server, **ATTRIBUTES)


def userinfo(server: AuthgateServer, token: str, method: str = "GET") -> httpx.Response:
    with server.public_client() as http:
        return http.request(
            method, "/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"}
        )


def claims_for(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str], scope: str
) -> dict[str, Any]:
    token = code_tokens(server, app, grace[0], scope=scope)["access_token"]
    answer = userinfo(server, token)
    assert answer.status_code == 200, answer.text
    assert_no_store(answer)
    body: dict[str, Any] = answer.json()
    return body


def challenge(answer: httpx.Response) -> str:
    return answer.headers["www-authenticate"]


# -- claims by scope ---------------------------------------------------------------------------


def test_openid_alone_releases_only_sub(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    assert claims_for(server, app, grace, "openid") == {"sub": grace[1]}


def test_profile_releases_the_profile_claims(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    body = claims_for(server, app, grace, "openid profile")
    assert body["given_name"] == "Grace"
    assert body["family_name"] == "Hopper"
    assert body["locale"] == "en-US"
    assert body["preferred_username"] == grace[0]
    assert isinstance(body["updated_at"], int)
    assert "email" not in body
    assert "phone_number" not in body


def test_email_releases_email_and_its_verification(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    body = claims_for(server, app, grace, "openid email")
    assert body == {"sub": grace[1], "email": grace[0], "email_verified": True}


def test_phone_releases_an_unverified_phone_number(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    body = claims_for(server, app, grace, "openid phone")
    assert body == {
        "sub": grace[1],
        "phone_number": "+15555550100",
        "phone_number_verified": False,
    }


def test_attribute_scope_releases_its_custom_attribute(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    assert claims_for(server, app, grace, "openid tenant")["custom:tenant"] == "navy"
    assert "custom:tenant" not in claims_for(server, app, grace, "openid profile email phone")


def test_post_with_the_header_works_too(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    token = code_tokens(server, app, grace[0], scope="openid")["access_token"]
    answer = userinfo(server, token, method="POST")
    assert answer.status_code == 200
    assert answer.json()["sub"] == grace[1]


def test_post_with_the_token_in_the_form_works(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    token = code_tokens(server, app, grace[0], scope="openid")["access_token"]
    with server.public_client() as http:
        answer = http.post("/oauth2/userinfo", data={"access_token": token})
    assert answer.status_code == 200
    assert answer.json()["sub"] == grace[1]


def test_refreshed_token_works(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    first = code_tokens(server, app, grace[0], scope="openid email offline_access")
    with server.public_client() as http:
        refreshed = http.post(
            "/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            auth=(app["client_id"], app["client_secret"]),
        ).json()
    assert userinfo(server, refreshed["access_token"]).json()["email"] == grace[0]


def test_opaque_access_token_works(server: AuthgateServer, grace: tuple[str, str]) -> None:
    opaque_app = web_app(server, scope="openid email", access_token_format="opaque")
    token = code_tokens(server, opaque_app, grace[0], scope="openid email")["access_token"]
    answer = userinfo(server, token)
    assert answer.status_code == 200
    assert answer.json()["email"] == grace[0]


# -- errors (RFC 6750 §3) ----------------------------------------------------------------------


def test_no_token_is_a_bare_bearer_challenge(server: AuthgateServer) -> None:
    with server.public_client() as http:
        answer = http.get("/oauth2/userinfo")
    assert answer.status_code == 401
    assert challenge(answer) == 'Bearer realm="authgate"'
    assert_no_store(answer)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 100])
def test_invalid_token_is_401_invalid_token(server: AuthgateServer, token: str) -> None:
    answer = userinfo(server, token)
    assert answer.status_code == 401
    assert challenge(answer).startswith('Bearer realm="authgate", error="invalid_token"')
    assert answer.json()["error"] == "invalid_token"
    assert_no_store(answer)


def test_id_token_is_not_an_access_token(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    tokens = code_tokens(server, app, grace[0], scope="openid")
    answer = userinfo(server, tokens["id_token"])
    assert answer.status_code == 401
    assert 'error="invalid_token"' in challenge(answer)


def test_refresh_token_is_not_an_access_token(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    tokens = code_tokens(server, app, grace[0], scope="openid offline_access")
    answer = userinfo(server, tokens["refresh_token"])
    assert answer.status_code == 401
    assert 'error="invalid_token"' in challenge(answer)


def test_token_without_openid_is_403_insufficient_scope(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    token = code_tokens(server, app, grace[0], scope="profile email")["access_token"]
    answer = userinfo(server, token)
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in challenge(answer)
    assert answer.json()["error"] == "insufficient_scope"
    assert_no_store(answer)


def test_client_credentials_token_lacks_the_openid_scope(server: AuthgateServer) -> None:
    token = client_token(server, machine(server, scope="orders:read"))["access_token"]
    answer = userinfo(server, token)
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in challenge(answer)


def test_token_of_a_disabled_user_is_invalid(server: AuthgateServer, app: dict[str, Any]) -> None:
    email, sub = person(server)
    token = code_tokens(server, app, email, scope="openid")["access_token"]
    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
    assert userinfo(server, token).status_code == 401


def test_token_in_header_and_form_at_once_is_invalid_request(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    token = code_tokens(server, app, grace[0], scope="openid")["access_token"]
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/userinfo",
            data={"access_token": token},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in challenge(answer)


def test_token_in_the_query_is_not_read(
    server: AuthgateServer, app: dict[str, Any], grace: tuple[str, str]
) -> None:
    token = code_tokens(server, app, grace[0], scope="openid")["access_token"]
    with server.public_client() as http:
        answer = http.get("/oauth2/userinfo", params={"access_token": token})
    assert answer.status_code == 401
    assert challenge(answer) == 'Bearer realm="authgate"'


# -- discovery ----------------------------------------------------------------------------------

DISCOVERY = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]


@pytest.fixture(scope="module")
def documents(server: AuthgateServer) -> list[dict[str, Any]]:
    found = []
    with server.public_client() as http:
        for path in DISCOVERY:
            answer = http.get(path)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("application/json")
            found.append(answer.json())
    return found


def test_both_addresses_serve_the_same_document(documents: list[dict[str, Any]]) -> None:
    assert documents[0] == documents[1]


def test_document_names_the_issuer_and_every_endpoint(
    server: AuthgateServer, documents: list[dict[str, Any]]
) -> None:
    doc, base = documents[0], server.public
    assert doc["issuer"] == base
    assert doc["authorization_endpoint"] == f"{base}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{base}/oauth2/token"
    assert doc["userinfo_endpoint"] == f"{base}/oauth2/userinfo"
    assert doc["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert doc["introspection_endpoint"] == f"{base}/oauth2/introspect"
    assert doc["revocation_endpoint"] == f"{base}/oauth2/revoke"
    assert doc["end_session_endpoint"] == f"{base}/oauth2/logout"
    assert "registration_endpoint" not in doc


def test_document_states_what_is_supported(documents: list[dict[str, Any]]) -> None:
    doc = documents[0]
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query", "fragment"]
    assert sorted(doc["grant_types_supported"]) == [
        "authorization_code",
        "client_credentials",
        "refresh_token",
    ]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert sorted(doc["token_endpoint_auth_methods_supported"]) == [
        "client_secret_basic",
        "client_secret_post",
        "none",
        "private_key_jwt",
    ]
    assert sorted(doc["introspection_endpoint_auth_methods_supported"]) == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]
    assert "client_secret_basic" in doc["revocation_endpoint_auth_methods_supported"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert sorted(doc["prompt_values_supported"]) == ["consent", "login", "none", "select_account"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["request_parameter_supported"] is False
    assert doc["request_uri_parameter_supported"] is False
    assert doc["claims_parameter_supported"] is False


def test_scopes_supported_lists_built_in_and_declared_scopes(
    documents: list[dict[str, Any]],
) -> None:
    assert set(documents[0]["scopes_supported"]) == {
        "openid",
        "profile",
        "email",
        "phone",
        "offline_access",
        "orders:read",
        "orders:write",
        "tenant",
    }


def test_claims_supported_covers_what_tokens_and_userinfo_release(
    documents: list[dict[str, Any]],
) -> None:
    claims = set(documents[0]["claims_supported"])
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp"} <= claims
    assert {"email", "email_verified", "phone_number", "given_name", "custom:tenant"} <= claims


def test_every_advertised_endpoint_exists(
    server: AuthgateServer, documents: list[dict[str, Any]]
) -> None:
    doc = documents[0]
    with httpx.Client(timeout=30) as http:
        assert http.get(doc["jwks_uri"]).status_code == 200
        for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
            assert http.post(doc[name], data={}).status_code in (400, 401), name
        assert http.get(doc["userinfo_endpoint"]).status_code == 401


def test_discovery_follows_the_signing_algorithm(make_server: ServerFactory) -> None:
    es256 = make_server(tokens={"signing_alg": "ES256"})
    with es256.public_client() as http:
        doc = http.get("/.well-known/openid-configuration").json()
    assert doc["id_token_signing_alg_values_supported"] == ["ES256"]
