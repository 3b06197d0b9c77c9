"""Authlib's OAuth 2 client, which nobody here wrote, against a real authgate.

Machines: client credentials with `client_secret_basic` and `client_secret_post`. People: the
authorization code flow with PKCE (S256), driven through the hosted sign-in (and, for a
third-party client, consent) page with plain HTTP requests; Authlib builds the authorization
URL, exchanges the code, refreshes and revokes. Endpoints come from discovery only, and the
discovery documents must pass Authlib's own RFC 8414 and OIDC Discovery validators.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.interop_signin import Journey, drive

with warnings.catch_warnings():
    # Authlib 1.9 nudges towards its httpx2 fork; the httpx client is the documented one.
    warnings.filterwarnings("ignore", "The httpx module is deprecated", DeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

PASSWORD = "lemon tree 4 harbour"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: only its Location is read
RESOURCE = "https://orders.example"
USER_SCOPE = "openid profile email offline_access"


@dataclass(frozen=True)
class Person:
    sub: str
    email: str


@pytest.fixture(scope="module")
def provider(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": {"orders:read": "Read orders"}})


@pytest.fixture(scope="module")
def metadata(provider: AuthgateServer) -> dict[str, Any]:
    with provider.public_client() as http:
        answer = http.get("/.well-known/openid-configuration")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


@pytest.fixture(scope="module")
def person(provider: AuthgateServer) -> Person:
    address = unique_email("authlib")
    body = {"email": address, "password": PASSWORD, "email_verified": True}
    with provider.admin_client() as admin:
        created = admin.post("/admin/users", json=body)
    assert created.status_code == 201, created.text
    return Person(created.json()["sub"], address)


def register(provider: AuthgateServer, **fields: Any) -> dict[str, Any]:
    """A client created through the admin API (RFC 7591 names); the answer has its secret."""
    with provider.admin_client() as admin:
        created = admin.post("/admin/clients", json={"client_name": "interop", **fields})
    assert created.status_code == 201, created.text
    client: dict[str, Any] = created.json()
    return client


def machine(provider: AuthgateServer, method: str) -> dict[str, Any]:
    return register(
        provider,
        grant_types=["client_credentials"],
        scope="orders:read",
        audience=[RESOURCE],
        token_endpoint_auth_method=method,
    )


def web_app(provider: AuthgateServer, *, first_party: bool, method: str) -> dict[str, Any]:
    return register(
        provider,
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        redirect_uris=[REDIRECT_URI],
        scope=USER_SCOPE,
        token_endpoint_auth_method=method,
        first_party=first_party,
    )


def authlib_client(registered: dict[str, Any], **options: Any) -> OAuth2Client:
    return OAuth2Client(
        client_id=registered["client_id"],
        client_secret=registered.get("client_secret"),
        token_endpoint_auth_method=registered["token_endpoint_auth_method"],
        timeout=30,
        **options,
    )


@dataclass
class SignedIn:
    client: OAuth2Client
    token: dict[str, Any]
    journey: Journey
    nonce: str
    verifier: str


@pytest.fixture
def sign_in(provider: AuthgateServer, metadata: dict[str, Any], person: Person) -> Iterator[Any]:
    """Run the code flow for a registered client: Authlib's URL, the hosted pages, Authlib's
    code exchange."""
    opened: list[OAuth2Client] = []

    def run(registered: dict[str, Any]) -> SignedIn:
        client = authlib_client(
            registered, scope=USER_SCOPE, redirect_uri=REDIRECT_URI, code_challenge_method="S256"
        )
        opened.append(client)
        verifier = generate_token(64)
        nonce = secrets.token_urlsafe(16)
        url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        with httpx.Client(timeout=30) as browser:
            journey = drive(browser, url, REDIRECT_URI, person.email, PASSWORD)
        token = client.fetch_token(
            metadata["token_endpoint"],
            authorization_response=journey.location,
            state=state,
            code_verifier=verifier,
        )
        return SignedIn(client, dict(token), journey, nonce, verifier)

    yield run
    for client in opened:
        client.close()


# -- discovery -------------------------------------------------------------------------------


def test_openid_configuration_passes_authlibs_oidc_discovery_validation(
    metadata: dict[str, Any], provider: AuthgateServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the test issuer is loopback http
    OpenIDProviderMetadata(metadata).validate()
    assert metadata["issuer"] == provider.public


def test_oauth_authorization_server_metadata_passes_authlibs_rfc8414_validation(
    provider: AuthgateServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with provider.public_client() as http:
        answer = http.get("/.well-known/oauth-authorization-server")
    assert answer.status_code == 200, answer.text
    AuthorizationServerMetadata(answer.json()).validate()
    assert answer.json()["issuer"] == provider.public


# -- client credentials ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials_grant_issues_a_bearer_token(
    provider: AuthgateServer, metadata: dict[str, Any], method: str
) -> None:
    with authlib_client(machine(provider, method)) as client:
        token = client.fetch_token(
            metadata["token_endpoint"], grant_type="client_credentials", scope="orders:read"
        )
    assert token["token_type"].lower() == "bearer"
    assert token["access_token"]
    assert token["expires_in"] > 0
    assert token.get("scope", "orders:read") == "orders:read"
    assert "refresh_token" not in token  # RFC 6749 4.4.3


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials_token_is_active_at_introspection(
    provider: AuthgateServer, metadata: dict[str, Any], method: str
) -> None:
    registered = machine(provider, method)
    with authlib_client(registered) as client:
        token = client.fetch_token(
            metadata["token_endpoint"], grant_type="client_credentials", scope="orders:read"
        )
        answer = client.introspect_token(
            metadata["introspection_endpoint"], token=token["access_token"]
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["active"] is True
    assert body["client_id"] == registered["client_id"]
    assert body["scope"] == "orders:read"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials_with_a_wrong_secret_is_invalid_client(
    provider: AuthgateServer, metadata: dict[str, Any], method: str
) -> None:
    registered = {**machine(provider, method), "client_secret": secrets.token_urlsafe(32)}
    with authlib_client(registered) as client, pytest.raises(OAuthError) as refused:
        client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


# -- authorization code + PKCE through the hosted pages --------------------------------------


def test_first_party_code_flow_skips_consent_and_yields_working_tokens(
    provider: AuthgateServer, metadata: dict[str, Any], person: Person, sign_in: Any
) -> None:
    signed_in = sign_in(web_app(provider, first_party=True, method="client_secret_basic"))
    assert not signed_in.journey.saw_consent
    assert {"access_token", "id_token", "refresh_token"} <= signed_in.token.keys()
    userinfo = signed_in.client.get(metadata["userinfo_endpoint"])
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == person.sub
    assert userinfo.json()["email"] == person.email


def test_authorization_response_names_the_issuer(
    provider: AuthgateServer, metadata: dict[str, Any], sign_in: Any
) -> None:
    signed_in = sign_in(web_app(provider, first_party=True, method="client_secret_basic"))
    query = parse_qs(urlsplit(signed_in.journey.location).query)
    assert query["iss"] == [provider.public]  # RFC 9207
    assert metadata.get("authorization_response_iss_parameter_supported") is True


def test_third_party_public_client_goes_through_consent(
    provider: AuthgateServer, metadata: dict[str, Any], person: Person, sign_in: Any
) -> None:
    signed_in = sign_in(web_app(provider, first_party=False, method="none"))
    assert signed_in.journey.saw_consent
    userinfo = signed_in.client.get(metadata["userinfo_endpoint"])
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == person.sub


def test_refreshed_tokens_work_at_userinfo(
    provider: AuthgateServer, metadata: dict[str, Any], person: Person, sign_in: Any
) -> None:
    signed_in = sign_in(web_app(provider, first_party=True, method="client_secret_basic"))
    first = signed_in.token
    refreshed = signed_in.client.refresh_token(
        metadata["token_endpoint"], refresh_token=first["refresh_token"]
    )
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] != first["refresh_token"]  # rotated
    userinfo = httpx.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == person.sub


def test_public_client_refreshes_too(
    provider: AuthgateServer, metadata: dict[str, Any], sign_in: Any
) -> None:
    signed_in = sign_in(web_app(provider, first_party=False, method="none"))
    refreshed = signed_in.client.refresh_token(
        metadata["token_endpoint"], refresh_token=signed_in.token["refresh_token"]
    )
    assert refreshed["access_token"]
    assert refreshed["refresh_token"] != signed_in.token["refresh_token"]


@pytest.mark.parametrize(
    ("first_party", "method"), [(True, "client_secret_basic"), (False, "none")]
)
def test_revoked_refresh_token_no_longer_works(
    provider: AuthgateServer,
    metadata: dict[str, Any],
    sign_in: Any,
    first_party: bool,
    method: str,
) -> None:
    signed_in = sign_in(web_app(provider, first_party=first_party, method=method))
    refresh = signed_in.token["refresh_token"]
    revoked = signed_in.client.revoke_token(
        metadata["revocation_endpoint"], token=refresh, token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(OAuthError) as refused:
        signed_in.client.refresh_token(metadata["token_endpoint"], refresh_token=refresh)
    assert refused.value.error == "invalid_grant"


def test_revoked_access_token_is_refused_at_userinfo(
    provider: AuthgateServer, metadata: dict[str, Any], sign_in: Any
) -> None:
    signed_in = sign_in(web_app(provider, first_party=True, method="client_secret_basic"))
    revoked = signed_in.client.revoke_token(
        metadata["revocation_endpoint"],
        token=signed_in.token["access_token"],
        token_type_hint="access_token",
    )
    assert revoked.status_code == 200, revoked.text
    userinfo = signed_in.client.get(metadata["userinfo_endpoint"])
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["www-authenticate"]


def test_replayed_code_is_invalid_grant(
    provider: AuthgateServer, metadata: dict[str, Any], sign_in: Any
) -> None:
    signed_in = sign_in(web_app(provider, first_party=True, method="client_secret_basic"))
    code = parse_qs(urlsplit(signed_in.journey.location).query)["code"][0]
    with pytest.raises(OAuthError) as refused:
        signed_in.client.fetch_token(
            metadata["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=signed_in.verifier,
        )
    assert refused.value.error == "invalid_grant"
