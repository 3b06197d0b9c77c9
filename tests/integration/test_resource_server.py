"""A resource server that trusts only the published JWKS, with JWT libraries nobody here wrote.

The resource server knows the issuer, its own audience and the jwks_uri from discovery, and
nothing else: no shared secret, no call back to authgate. joserfc and PyJWT (PyJWKClient)
each verify a client-credentials access token (RFC 9068: typ at+jwt, iss, aud, exp,
client_id, sub); an ID token from the code flow verifies the same way (OIDC Core 3.1.3.7)
and is refused where an access token is expected.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.interop_signin import drive

PASSWORD = "lemon tree 4 harbour"
RESOURCE = "https://orders.example"
REDIRECT_URI = "http://127.0.0.1:9/callback"
ASYMMETRIC = ["RS256", "ES256", "EdDSA"]


@pytest.fixture(scope="module")
def provider(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": {"orders:read": "Read orders"}})


@pytest.fixture(scope="module")
def metadata(provider: AuthgateServer) -> dict[str, Any]:
    answer = httpx.get(f"{provider.public}/.well-known/openid-configuration")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


@pytest.fixture(scope="module")
def jwks(metadata: dict[str, Any]) -> dict[str, Any]:
    """The key set as any resource server gets it: over HTTP from the advertised jwks_uri."""
    answer = httpx.get(metadata["jwks_uri"])
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    assert all("d" not in key for key in document["keys"]), "private key material published"
    return document


def admin_post(provider: AuthgateServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with provider.admin_client() as admin:
        created = admin.post(path, json=body)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


@pytest.fixture(scope="module")
def machine(provider: AuthgateServer) -> dict[str, Any]:
    return admin_post(
        provider,
        "/admin/clients",
        {
            "client_name": "orders worker",
            "grant_types": ["client_credentials"],
            "scope": "orders:read",
            "audience": [RESOURCE],
        },
    )


@pytest.fixture(scope="module")
def machine_token(
    provider: AuthgateServer, metadata: dict[str, Any], machine: dict[str, Any]
) -> str:
    answer = httpx.post(
        metadata["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "orders:read"},
        auth=(machine["client_id"], machine["client_secret"]),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.fixture(scope="module")
def code_flow(provider: AuthgateServer, metadata: dict[str, Any]) -> dict[str, Any]:
    """Tokens from a real code flow (plain HTTP through the hosted sign-in page)."""
    address = unique_email("resource")
    admin_post(
        provider,
        "/admin/users",
        {"email": address, "password": PASSWORD, "email_verified": True},
    )
    client = admin_post(
        provider,
        "/admin/clients",
        {
            "client_name": "orders web",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "redirect_uris": [REDIRECT_URI],
            "scope": "openid email",
            "first_party": True,
        },
    )
    verifier = secrets.token_urlsafe(48)
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    nonce = secrets.token_urlsafe(16)
    state = secrets.token_urlsafe(16)
    url = httpx.URL(
        metadata["authorization_endpoint"],
        params={
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": REDIRECT_URI,
            "scope": "openid email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    with httpx.Client(timeout=30) as browser:
        journey = drive(browser, str(url), REDIRECT_URI, address, PASSWORD)
    callback = httpx.URL(journey.location)
    assert callback.params["state"] == state
    answer = httpx.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": callback.params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client["client_id"], client["client_secret"]),
    )
    assert answer.status_code == 200, answer.text
    return {**answer.json(), "nonce": nonce, "client_id": client["client_id"]}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def joserfc_verify(token: str, jwks: dict[str, Any]) -> jose_jwt.Token:
    return jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=ASYMMETRIC)


def header_of(token: str) -> dict[str, Any]:
    return dict(extract_compact(token.encode()).protected)


# -- access tokens (RFC 9068) ----------------------------------------------------------------


def test_access_token_verifies_with_joserfc_against_the_jwks(
    machine_token: str,
    jwks: dict[str, Any],
    metadata: dict[str, Any],
    machine: dict[str, Any],
) -> None:
    token = joserfc_verify(machine_token, jwks)
    assert token.header["typ"].lower() in ("at+jwt", "application/at+jwt")
    assert token.header["kid"] in {key["kid"] for key in jwks["keys"]}
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": RESOURCE},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        client_id={"essential": True, "value": machine["client_id"]},
        sub={"essential": True, "value": machine["client_id"]},
    ).validate(token.claims)
    assert token.claims["scope"] == "orders:read"


def test_access_token_verifies_with_pyjwt_jwks_client(
    machine_token: str, metadata: dict[str, Any], machine: dict[str, Any]
) -> None:
    signing_key = pyjwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(machine_token)
    claims = pyjwt.decode(
        machine_token,
        signing_key.key,
        algorithms=ASYMMETRIC,
        audience=RESOURCE,
        issuer=metadata["issuer"],
        options={"require": ["iss", "aud", "exp", "iat", "sub", "jti", "client_id"]},
    )
    assert pyjwt.get_unverified_header(machine_token)["typ"].lower() in (
        "at+jwt",
        "application/at+jwt",
    )
    assert claims["client_id"] == machine["client_id"]
    assert claims["exp"] > time.time()


def test_access_token_for_another_resource_is_refused(
    machine_token: str, jwks: dict[str, Any], metadata: dict[str, Any]
) -> None:
    token = joserfc_verify(machine_token, jwks)
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": "https://billing.example"},
    )
    with pytest.raises(JoseError):
        registry.validate(token.claims)


def test_tampered_access_token_fails_the_signature_check(
    machine_token: str, jwks: dict[str, Any]
) -> None:
    header, payload, signature = machine_token.split(".")
    forged = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(
        b'"orders:read"', b'"orders:write"'
    )
    with pytest.raises(JoseError):
        joserfc_verify(f"{header}.{b64url(forged)}.{signature}", jwks)


# -- ID tokens (OIDC Core 3.1.3.7) -----------------------------------------------------------


def test_id_token_verifies_with_joserfc_against_the_jwks(
    code_flow: dict[str, Any], jwks: dict[str, Any], metadata: dict[str, Any]
) -> None:
    token = joserfc_verify(code_flow["id_token"], jwks)
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": code_flow["client_id"]},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": code_flow["nonce"]},
        auth_time={"essential": True},
    ).validate(token.claims)
    if isinstance(token.claims["aud"], list) and len(token.claims["aud"]) > 1:
        assert token.claims["azp"] == code_flow["client_id"]


def test_id_token_at_hash_matches_the_access_token(
    code_flow: dict[str, Any], jwks: dict[str, Any]
) -> None:
    token = joserfc_verify(code_flow["id_token"], jwks)
    alg = token.header["alg"]
    digest = {"256": hashlib.sha256, "384": hashlib.sha384}.get(alg[-3:], hashlib.sha512)
    full = digest(code_flow["access_token"].encode()).digest()
    assert token.claims["at_hash"] == b64url(full[: len(full) // 2])


def test_id_token_is_not_mistaken_for_an_access_token(
    code_flow: dict[str, Any], jwks: dict[str, Any]
) -> None:
    """RFC 9068 4: a resource server refuses a JWT whose typ is not at+jwt."""
    typ = str(header_of(code_flow["id_token"]).get("typ", "")).lower()
    assert typ not in ("at+jwt", "application/at+jwt")


def test_code_flow_access_token_verifies_for_the_resource_server(
    code_flow: dict[str, Any], jwks: dict[str, Any], metadata: dict[str, Any]
) -> None:
    token = joserfc_verify(code_flow["access_token"], jwks)
    assert token.header["typ"].lower() in ("at+jwt", "application/at+jwt")
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        exp={"essential": True},
        sub={"essential": True},
        client_id={"essential": True, "value": code_flow["client_id"]},
    ).validate(token.claims)
