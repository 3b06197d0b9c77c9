"""Tokens as a client and a resource server see them: shape, verification, refresh, revocation.

Access and id tokens are checked by their claims, by independent JWT libraries (joserfc and
PyJWT's JWKS client) using only the published JWKS, and by the server itself at `/v1/me`.
Refresh tokens rotate with reuse detection; logout and "log out everywhere" revoke; signing
keys rotate without breaking earlier tokens; secrets are not kept in clear in the database.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from sqlalchemy.engine import make_url

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
JWKS_PATH = "/.well-known/jwks.json"


# -- helpers ---------------------------------------------------------------------------------


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jose_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, read without verifying anything."""
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signup_and_confirm(
    server: AuthgateServer,
    client: httpx.Client,
    address: str,
    attributes: dict[str, Any] | None = None,
) -> str:
    """A confirmed account; returns its sub."""
    body: dict[str, Any] = {"email": address, "password": PASSWORD}
    if attributes is not None:
        body["attributes"] = attributes
    created = client.post("/v1/signup", json=body)
    assert created.status_code == 201, created.text
    code = server.wait_for_mail(address).code
    confirmed = client.post("/v1/signup/confirm", json={"username": address, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    return str(created.json()["sub"])


def login(client: httpx.Client, address: str, **extra: Any) -> dict[str, Any]:
    answer = client.post("/v1/login", json={"username": address, "password": PASSWORD, **extra})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def new_user(server: AuthgateServer, prefix: str, **attributes: Any) -> tuple[str, str]:
    """A confirmed account with a unique address: (address, sub)."""
    address = unique_email(prefix)
    with server.public_client() as client:
        sub = signup_and_confirm(server, client, address, attributes or None)
    return address, sub


def refresh(client: httpx.Client, refresh_token: str) -> httpx.Response:
    return client.post("/v1/token/refresh", json={"refresh_token": refresh_token})


def jwks_of(server: AuthgateServer) -> dict[str, Any]:
    answer = httpx.get(f"{server.public}{JWKS_PATH}", timeout=30)
    assert answer.status_code == 200
    jwks: dict[str, Any] = answer.json()
    return jwks


def jwks_kids(server: AuthgateServer) -> set[str]:
    return {key["kid"] for key in jwks_of(server)["keys"]}


def verify_with_joserfc(server: AuthgateServer, token: str, alg: str) -> jose_jwt.Token:
    """Verify signature and standard claims with joserfc, from the published JWKS only."""
    key_set = KeySet.import_key_set(jwks_of(server))  # type: ignore[arg-type]
    decoded = jose_jwt.decode(token, key_set, algorithms=[alg])
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": server.public},
        sub={"essential": True},
        aud={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    registry.validate(decoded.claims)
    return decoded


def me_error(answer: httpx.Response) -> str:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    error: str = answer.json()["error"]
    return error


def rows_of(server: AuthgateServer, backend: str, table: str) -> list[dict[str, Any]]:
    """Every row of a table, read straight from the server's database."""
    if backend == "sqlite":
        path = make_url(server.database_url).database
        assert path
        connection = sqlite3.connect(path)
        connection.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in connection.execute(f'SELECT * FROM "{table}"')]
        finally:
            connection.close()

    async def fetch() -> list[dict[str, Any]]:
        dsn = (
            make_url(server.database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        connection = await asyncpg.connect(dsn, timeout=5)
        try:
            return [dict(row) for row in await connection.fetch(f'SELECT * FROM "{table}"')]
        finally:
            await connection.close()

    return asyncio.run(fetch())


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


# -- access and id tokens --------------------------------------------------------------------


def test_access_token_header_is_at_jwt_rs256_with_kid(server: AuthgateServer) -> None:
    address, _ = new_user(server, "at-header")
    with server.public_client() as client:
        tokens = login(client, address)
    header, _ = jose_parts(tokens["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert isinstance(header["kid"], str) and header["kid"]
    assert header["kid"] in jwks_kids(server)


def test_login_answers_bearer_tokens_with_expiry(server: AuthgateServer) -> None:
    address, _ = new_user(server, "login-shape")
    with server.public_client() as client:
        answer = client.post("/v1/login", json={"username": address, "password": PASSWORD})
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert all(isinstance(body[k], str) for k in ("access_token", "id_token", "refresh_token"))
    assert answer.headers["cache-control"] == "no-store"


def test_access_token_claims(server: AuthgateServer) -> None:
    address, sub = new_user(server, "at-claims")
    with server.public_client() as client:
        tokens = login(client, address)
    with server.admin_client() as admin:
        default_client = admin.get("/admin/clients/default")
    assert default_client.status_code == 200
    _, claims = jose_parts(tokens["access_token"])
    assert claims["iss"] == server.public
    assert claims["sub"] == sub
    assert claims["aud"] == "default"
    assert claims["client_id"] == "default"
    assert claims["username"] == address
    assert claims["scope"] == "aws.cognito.signin.user.admin " + default_client.json()["scope"]
    assert claims["groups"] == []
    assert claims["token_use"] == "access"
    assert isinstance(claims["iat"], int)
    assert abs(claims["iat"] - time.time()) < 120
    assert claims["exp"] == claims["iat"] + 3600
    assert isinstance(claims["jti"], str) and claims["jti"]


def test_access_token_jti_is_unique_per_login(server: AuthgateServer) -> None:
    address, _ = new_user(server, "jti")
    with server.public_client() as client:
        first = login(client, address)
        second = login(client, address)
    assert (
        jose_parts(first["access_token"])[1]["jti"] != jose_parts(second["access_token"])[1]["jti"]
    )


def test_id_token_header_is_jwt_with_kid(server: AuthgateServer) -> None:
    address, _ = new_user(server, "id-header")
    with server.public_client() as client:
        tokens = login(client, address)
    header, _ = jose_parts(tokens["id_token"])
    assert header["typ"] == "JWT"
    assert header["alg"] == "RS256"
    assert header["kid"] in jwks_kids(server)


def test_id_token_claims_carry_profile(server: AuthgateServer) -> None:
    address, sub = new_user(server, "id-claims", given_name="Ada")
    with server.public_client() as client:
        before = int(time.time())
        tokens = login(client, address)
    _, claims = jose_parts(tokens["id_token"])
    assert claims["iss"] == server.public
    assert claims["sub"] == sub
    assert claims["aud"] == "default"
    assert claims["token_use"] == "id"
    assert isinstance(claims["iat"], int)
    assert claims["exp"] > claims["iat"]
    assert isinstance(claims["auth_time"], int)
    assert claims["auth_time"] >= before - 1
    assert claims["email"] == address
    assert claims["email_verified"] is True
    assert claims["given_name"] == "Ada"


def test_id_token_is_verifiable_from_jwks(server: AuthgateServer) -> None:
    address, sub = new_user(server, "id-verify")
    with server.public_client() as client:
        tokens = login(client, address)
    decoded = verify_with_joserfc(server, tokens["id_token"], "RS256")
    assert decoded.claims["sub"] == sub
    assert decoded.claims["token_use"] == "id"


# -- independent verification ----------------------------------------------------------------


def test_access_token_verifies_with_joserfc_from_published_jwks(server: AuthgateServer) -> None:
    address, sub = new_user(server, "joserfc")
    with server.public_client() as client:
        tokens = login(client, address)
    decoded = verify_with_joserfc(server, tokens["access_token"], "RS256")
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.claims["iss"] == server.public
    assert decoded.claims["sub"] == sub
    assert decoded.claims["aud"] == "default"
    assert decoded.claims["client_id"] == "default"
    assert decoded.claims["token_use"] == "access"
    assert decoded.claims["exp"] == decoded.claims["iat"] + 3600


def test_access_token_verifies_with_pyjwt_jwks_client(server: AuthgateServer) -> None:
    address, sub = new_user(server, "pyjwt")
    with server.public_client() as client:
        tokens = login(client, address)
    jwks_client = pyjwt.PyJWKClient(f"{server.public}{JWKS_PATH}", cache_keys=False)
    signing_key = jwks_client.get_signing_key_from_jwt(tokens["access_token"])
    claims = pyjwt.decode(
        tokens["access_token"],
        signing_key.key,
        algorithms=["RS256"],
        audience="default",
        issuer=server.public,
        options={"require": ["exp", "iat", "iss", "sub", "aud"]},
    )
    assert claims["sub"] == sub
    assert claims["token_use"] == "access"


def test_jwks_publishes_only_public_members(server: AuthgateServer) -> None:
    jwks = jwks_of(server)
    assert jwks["keys"]
    private_members = {"d", "p", "q", "dp", "dq", "qi", "k"}
    for key in jwks["keys"]:
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert not private_members & key.keys()


def test_discovery_document_names_issuer_jwks_and_algorithms(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.get("/.well-known/openid-configuration")
    assert answer.status_code == 200
    document = answer.json()
    assert document["issuer"] == server.public
    assert document["jwks_uri"] == f"{server.public}{JWKS_PATH}"
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert httpx.get(document["jwks_uri"], timeout=30).json() == jwks_of(server)


# -- groups ----------------------------------------------------------------------------------


def test_group_membership_appears_in_new_tokens_and_profile(server: AuthgateServer) -> None:
    address, sub = new_user(server, "grouped")
    name = f"editors-{secrets.token_hex(4)}"
    with server.admin_client() as admin:
        assert admin.post("/admin/groups", json={"name": name}).status_code == 201
        assert admin.put(f"/admin/groups/{name}/members/{sub}").status_code == 204
    with server.public_client() as client:
        tokens = login(client, address)
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
    assert jose_parts(tokens["access_token"])[1]["groups"] == [name]
    assert me.status_code == 200
    assert me.json()["groups"] == [name]


# -- refresh ---------------------------------------------------------------------------------


def test_refresh_returns_new_tokens_and_rotates_refresh_token(server: AuthgateServer) -> None:
    address, sub = new_user(server, "refresh")
    with server.public_client() as client:
        tokens = login(client, address)
        answer = refresh(client, tokens["refresh_token"])
        assert answer.status_code == 200, answer.text
        fresh = answer.json()
        me = client.get("/v1/me", headers=bearer(fresh["access_token"]))
    assert fresh["token_type"] == "Bearer"
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert jose_parts(fresh["access_token"])[1]["sub"] == sub
    assert jose_parts(fresh["id_token"])[1]["sub"] == sub
    assert jose_parts(fresh["id_token"])[1]["token_use"] == "id"
    assert me.status_code == 200
    assert me.json()["sub"] == sub


def test_rotated_refresh_token_refreshes_again(server: AuthgateServer) -> None:
    address, _ = new_user(server, "refresh-chain")
    with server.public_client() as client:
        tokens = login(client, address)
        second = refresh(client, tokens["refresh_token"])
        third = refresh(client, second.json()["refresh_token"])
    assert second.status_code == 200
    assert third.status_code == 200
    assert third.json()["refresh_token"] != second.json()["refresh_token"]


def test_refresh_keeps_auth_time_of_the_sign_in(server: AuthgateServer) -> None:
    address, _ = new_user(server, "auth-time")
    with server.public_client() as client:
        tokens = login(client, address)
        fresh = refresh(client, tokens["refresh_token"]).json()
    original = jose_parts(tokens["id_token"])[1]["auth_time"]
    assert jose_parts(fresh["id_token"])[1]["auth_time"] == original


@pytest.fixture(scope="module")
def strict(make_server: ServerFactory) -> AuthgateServer:
    """Refresh reuse detection without the reuse interval (test_refresh_reuse_interval.py)."""
    return make_server(tokens={"refresh_reuse_interval": 0})


def test_reused_refresh_token_is_refused_and_revokes_its_sign_in(strict: AuthgateServer) -> None:
    address, _ = new_user(strict, "reuse")
    with strict.public_client() as client:
        tokens = login(client, address)
        rotated = refresh(client, tokens["refresh_token"])
        assert rotated.status_code == 200
        replay = refresh(client, tokens["refresh_token"])
        after = refresh(client, rotated.json()["refresh_token"])
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_token"
    assert after.status_code == 401
    assert after.json()["error"] == "invalid_token"


def test_refresh_reuse_is_audited(strict: AuthgateServer) -> None:
    address, sub = new_user(strict, "reuse-audit")
    with strict.public_client() as client:
        tokens = login(client, address)
        assert refresh(client, tokens["refresh_token"]).status_code == 200
        assert refresh(client, tokens["refresh_token"]).status_code == 401
    with strict.admin_client() as admin:
        answer = admin.get("/admin/audit", params={"event": "refresh_reuse_detected", "sub": sub})
    assert answer.status_code == 200
    events = answer.json()["items"]
    assert len(events) == 1
    assert events[0]["event"] == "refresh_reuse_detected"
    assert events[0]["sub"] == sub


def test_refresh_reuse_leaves_other_sign_ins_alone(strict: AuthgateServer) -> None:
    address, _ = new_user(strict, "sibling")
    with strict.public_client() as client:
        stolen = login(client, address)
        sibling = login(client, address)
        assert refresh(client, stolen["refresh_token"]).status_code == 200
        assert refresh(client, stolen["refresh_token"]).status_code == 401
        answer = refresh(client, sibling["refresh_token"])
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "garbage",
    ["not-a-refresh-token", secrets.token_urlsafe(32), "x" * 600],
    ids=["word", "random", "oversized"],
)
def test_unknown_refresh_token_is_invalid_token(server: AuthgateServer, garbage: str) -> None:
    with server.public_client() as client:
        answer = refresh(client, garbage)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


def test_access_token_is_not_a_refresh_token(server: AuthgateServer) -> None:
    address, _ = new_user(server, "at-as-rt")
    with server.public_client() as client:
        tokens = login(client, address)
        answer = refresh(client, tokens["access_token"])
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": ""}, {"refresh_token": None}], ids=["absent", "empty", "null"]
)
def test_refresh_without_refresh_token_is_bad_request(
    server: AuthgateServer, body: dict[str, Any]
) -> None:
    with server.public_client() as client:
        answer = client.post("/v1/token/refresh", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_refresh_token_must_be_a_string(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.post("/v1/token/refresh", json={"refresh_token": ["a", "b"]})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_without_a_reuse_interval_concurrent_refreshes_let_exactly_one_through(
    strict: AuthgateServer,
) -> None:
    address, _ = new_user(strict, "race")
    with strict.public_client() as client:
        tokens = login(client, address)
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def spend() -> None:
        with strict.public_client() as own_client:
            barrier.wait()
            answer = refresh(own_client, tokens["refresh_token"])
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=spend) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 401]
    loser = next(answer for answer in answers if answer.status_code == 401)
    winner = next(answer for answer in answers if answer.status_code == 200)
    assert loser.json()["error"] == "invalid_token"
    with strict.public_client() as client:
        after = refresh(client, winner.json()["refresh_token"])
    assert after.status_code == 401
    assert after.json()["error"] == "invalid_token"


# -- logout ----------------------------------------------------------------------------------


def test_logout_revokes_the_refresh_token(server: AuthgateServer) -> None:
    address, _ = new_user(server, "logout")
    with server.public_client() as client:
        tokens = login(client, address)
        answer = client.post("/v1/logout", json={"refresh_token": tokens["refresh_token"]})
        after = refresh(client, tokens["refresh_token"])
    assert answer.status_code == 200
    assert after.status_code == 401
    assert after.json()["error"] == "invalid_token"


def test_logout_with_an_earlier_refresh_token_revokes_the_whole_sign_in(
    server: AuthgateServer,
) -> None:
    address, _ = new_user(server, "logout-family")
    with server.public_client() as client:
        tokens = login(client, address)
        rotated = refresh(client, tokens["refresh_token"])
        assert rotated.status_code == 200
        answer = client.post("/v1/logout", json={"refresh_token": tokens["refresh_token"]})
        after = refresh(client, rotated.json()["refresh_token"])
    assert answer.status_code == 200
    assert after.status_code == 401
    assert after.json()["error"] == "invalid_token"


def test_logout_leaves_other_sign_ins_alone(server: AuthgateServer) -> None:
    address, _ = new_user(server, "logout-sibling")
    with server.public_client() as client:
        leaving = login(client, address)
        staying = login(client, address)
        assert (
            client.post("/v1/logout", json={"refresh_token": leaving["refresh_token"]}).status_code
            == 200
        )
        answer = refresh(client, staying["refresh_token"])
    assert answer.status_code == 200


def test_logout_with_unknown_token_answers_ok(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.post("/v1/logout", json={"refresh_token": secrets.token_urlsafe(32)})
    assert answer.status_code == 200


def test_logout_all_revokes_every_sign_in(server: AuthgateServer) -> None:
    address, _ = new_user(server, "logout-all")
    with server.public_client() as client:
        first = login(client, address)
        second = login(client, address)
        rotated = refresh(client, second["refresh_token"])
        assert rotated.status_code == 200
        answer = client.post("/v1/logout/all", headers=bearer(first["access_token"]))
        refused = [
            refresh(client, first["refresh_token"]),
            refresh(client, rotated.json()["refresh_token"]),
        ]
    assert answer.status_code == 200
    for after in refused:
        assert after.status_code == 401
        assert after.json()["error"] == "invalid_token"


def test_logout_all_stops_earlier_access_tokens(server: AuthgateServer) -> None:
    address, _ = new_user(server, "logout-all-at")
    with server.public_client() as client:
        first = login(client, address)
        other = login(client, address)
        assert (
            client.post("/v1/logout/all", headers=bearer(first["access_token"])).status_code == 200
        )
        answers = [
            client.get("/v1/me", headers=bearer(first["access_token"])),
            client.get("/v1/me", headers=bearer(other["access_token"])),
        ]
    for answer in answers:
        assert me_error(answer) == "invalid_token"


def test_login_right_after_logout_all_works(server: AuthgateServer) -> None:
    address, sub = new_user(server, "logout-all-again")
    with server.public_client() as client:
        first = login(client, address)
        assert (
            client.post("/v1/logout/all", headers=bearer(first["access_token"])).status_code == 200
        )
        again = login(client, address)
        me = client.get("/v1/me", headers=bearer(again["access_token"]))
        renewed = refresh(client, again["refresh_token"])
    assert me.status_code == 200
    assert me.json()["sub"] == sub
    assert renewed.status_code == 200


def test_logout_all_needs_a_bearer_token(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.post("/v1/logout/all")
    assert me_error(answer) in {"unauthorized", "invalid_token"}


# -- what /v1/me accepts as an access token --------------------------------------------------


@pytest.fixture(scope="module")
def victim(server: AuthgateServer) -> dict[str, Any]:
    """One signed-in account whose genuine tokens the forgery tests start from."""
    address, sub = new_user(server, "victim")
    with server.public_client() as client:
        tokens = login(client, address)
    return {"sub": sub, **tokens}


def test_genuine_access_token_is_accepted(server: AuthgateServer, victim: dict[str, Any]) -> None:
    with server.public_client() as client:
        answer = client.get("/v1/me", headers=bearer(victim["access_token"]))
    assert answer.status_code == 200
    assert answer.json()["sub"] == victim["sub"]


def test_me_without_authorization_is_unauthorized(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.get("/v1/me")
    assert me_error(answer) in {"unauthorized", "invalid_token"}
    assert answer.json()["message"]


@pytest.mark.parametrize("value", ["Bearer", "Basic dXNlcjpwYXNz", "bearer", "Token abc"])
def test_me_with_malformed_authorization_is_unauthorized(
    server: AuthgateServer, value: str
) -> None:
    with server.public_client() as client:
        answer = client.get("/v1/me", headers={"Authorization": value})
    assert me_error(answer) in {"unauthorized", "invalid_token"}


def test_id_token_is_not_an_access_token(server: AuthgateServer, victim: dict[str, Any]) -> None:
    with server.public_client() as client:
        answer = client.get("/v1/me", headers=bearer(victim["id_token"]))
    assert me_error(answer) == "invalid_token"


def test_refresh_token_is_not_an_access_token(
    server: AuthgateServer, victim: dict[str, Any]
) -> None:
    with server.public_client() as client:
        answer = client.get("/v1/me", headers=bearer(victim["refresh_token"]))
    assert me_error(answer) in {"unauthorized", "invalid_token"}


def test_access_token_with_flipped_signature_byte_is_refused(
    server: AuthgateServer, victim: dict[str, Any]
) -> None:
    header, payload, signature = victim["access_token"].split(".")
    raw = bytearray(b64url_decode(signature))
    raw[len(raw) // 2] ^= 0x01
    forged = f"{header}.{payload}.{b64url_encode(bytes(raw))}"
    with server.public_client() as client:
        answer = client.get("/v1/me", headers=bearer(forged))
    assert me_error(answer) == "invalid_token"


def test_access_token_with_altered_claims_is_refused(
    server: AuthgateServer, victim: dict[str, Any]
) -> None:
    header, _, signature = victim["access_token"].split(".")
    _, claims = jose_parts(victim["access_token"])
    claims["groups"] = ["admins"]
    payload = b64url_encode(json.dumps(claims).encode())
    with server.public_client() as client:
        answer = client.get("/v1/me", headers=bearer(f"{header}.{payload}.{signature}"))
    assert me_error(answer) == "invalid_token"


def test_access_token_signed_by_a_foreign_key_with_our_kid_is_refused(
    server: AuthgateServer, victim: dict[str, Any]
) -> None:
    header, claims = jose_parts(victim["access_token"])
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = pyjwt.encode(
        claims, foreign, algorithm="RS256", headers={"kid": header["kid"], "typ": "at+jwt"}
    )
    with server.public_client() as client:
        answer = client.get("/v1/me", headers=bearer(forged))
    assert me_error(answer) == "invalid_token"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["empty", "original"])
def test_unsigned_access_token_is_refused(
    server: AuthgateServer, victim: dict[str, Any], alg: str, signature: str
) -> None:
    header, claims = jose_parts(victim["access_token"])
    header["alg"] = alg
    original_signature = victim["access_token"].split(".")[2]
    forged = ".".join(
        [
            b64url_encode(json.dumps(header).encode()),
            b64url_encode(json.dumps(claims).encode()),
            "" if signature == "empty" else original_signature,
        ]
    )
    with server.public_client() as client:
        answer = client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert me_error(answer) in {"unauthorized", "invalid_token"}


def test_hs256_token_keyed_with_the_public_key_is_refused(
    server: AuthgateServer, victim: dict[str, Any]
) -> None:
    header, claims = jose_parts(victim["access_token"])
    jwk = next(k for k in jwks_of(server)["keys"] if k["kid"] == header["kid"])
    secret = json.dumps(jwk).encode()
    signing_input = ".".join(
        [
            b64url_encode(
                json.dumps({"alg": "HS256", "kid": header["kid"], "typ": "at+jwt"}).encode()
            ),
            b64url_encode(json.dumps(claims).encode()),
        ]
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64url_encode(mac)}"
    with server.public_client() as client:
        answer = client.get("/v1/me", headers=bearer(forged))
    assert me_error(answer) == "invalid_token"


# -- key rotation ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rotating_server(make_server: ServerFactory) -> AuthgateServer:
    """A server of its own, so rotating its keys does not disturb the other tests."""
    return make_server()


@pytest.fixture(scope="module")
def rotation(rotating_server: AuthgateServer) -> dict[str, Any]:
    """A token issued before an admin key rotation, the old kid and the rotation's answer."""
    server = rotating_server
    address, sub = new_user(server, "rotation")
    with server.public_client() as client:
        tokens = login(client, address)
    old_kid = jose_parts(tokens["access_token"])[0]["kid"]
    with server.admin_client() as admin:
        answer = admin.post("/admin/keys/rotate")
    return {
        "address": address,
        "sub": sub,
        "old_token": tokens["access_token"],
        "old_kid": old_kid,
        "answer": answer,
    }


def test_key_rotation_answers_the_new_key(rotation: dict[str, Any]) -> None:
    answer = rotation["answer"]
    assert answer.status_code == 201
    body = answer.json()
    assert isinstance(body["kid"], str) and body["kid"]
    assert body["kid"] != rotation["old_kid"]
    assert body["alg"] == "RS256"
    assert body["active"] is True


def test_jwks_lists_old_and_new_key_after_rotation(
    rotating_server: AuthgateServer, rotation: dict[str, Any]
) -> None:
    kids = jwks_kids(rotating_server)
    assert {rotation["old_kid"], rotation["answer"].json()["kid"]} <= kids


def test_token_from_before_rotation_still_works(
    rotating_server: AuthgateServer, rotation: dict[str, Any]
) -> None:
    with rotating_server.public_client() as client:
        answer = client.get("/v1/me", headers=bearer(rotation["old_token"]))
    assert answer.status_code == 200
    assert answer.json()["sub"] == rotation["sub"]
    decoded = verify_with_joserfc(rotating_server, rotation["old_token"], "RS256")
    assert decoded.claims["sub"] == rotation["sub"]


def test_tokens_after_rotation_carry_the_new_kid(
    rotating_server: AuthgateServer, rotation: dict[str, Any]
) -> None:
    with rotating_server.public_client() as client:
        tokens = login(client, rotation["address"])
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
    new_kid = rotation["answer"].json()["kid"]
    assert jose_parts(tokens["access_token"])[0]["kid"] == new_kid
    assert jose_parts(tokens["id_token"])[0]["kid"] == new_kid
    assert me.status_code == 200
    verify_with_joserfc(rotating_server, tokens["access_token"], "RS256")


def test_admin_key_list_shows_old_key_retired_with_verify_until(
    rotating_server: AuthgateServer, rotation: dict[str, Any]
) -> None:
    with rotating_server.admin_client() as admin:
        answer = admin.get("/admin/keys")
    assert answer.status_code == 200
    keys = {key["kid"]: key for key in answer.json()["items"]}
    old = keys[rotation["old_kid"]]
    new = keys[rotation["answer"].json()["kid"]]
    assert old["active"] is False
    assert isinstance(old["verify_until"], int)
    assert old["verify_until"] > time.time()
    assert new["active"] is True
    assert new["verify_until"] is None


def test_key_rotation_needs_the_admin_token(rotating_server: AuthgateServer) -> None:
    with httpx.Client(base_url=rotating_server.admin, timeout=30) as anonymous:
        answer = anonymous.post("/admin/keys/rotate")
    assert answer.status_code == 401


def test_cli_key_rotation_reaches_the_running_servers_jwks(make_server: ServerFactory) -> None:
    server = make_server(tokens={"keys_reload_interval": "1s"})
    before = jwks_kids(server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    cli = Path(sys.executable).with_name("authgate")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "authgate"]
    done = subprocess.run(
        [*command, "keys", "rotate", "--config", str(server.workdir / "authgate.yaml"), "--json"],
        cwd=server.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    new_kid = rows[0]["kid"]
    assert new_kid not in before
    deadline = time.monotonic() + 10
    kids = jwks_kids(server)
    while new_kid not in kids and time.monotonic() < deadline:
        time.sleep(0.2)
        kids = jwks_kids(server)
    assert new_kid in kids
    assert before <= kids


# -- other signing algorithms ----------------------------------------------------------------

KEY_TYPES = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}


@pytest.fixture(scope="module", params=["ES256", "EdDSA"])
def alg_server(
    request: pytest.FixtureRequest, make_server: ServerFactory
) -> Iterator[tuple[str, AuthgateServer]]:
    alg = str(request.param)
    yield alg, make_server(tokens={"signing_alg": alg})


def test_other_algorithm_signs_tokens_with_it(alg_server: tuple[str, AuthgateServer]) -> None:
    alg, server = alg_server
    address, sub = new_user(server, f"alg-{alg.lower()}")
    with server.public_client() as client:
        tokens = login(client, address)
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
    assert jose_parts(tokens["access_token"])[0]["alg"] == alg
    assert jose_parts(tokens["id_token"])[0]["alg"] == alg
    assert me.status_code == 200
    assert me.json()["sub"] == sub


def test_other_algorithm_publishes_matching_key_type(
    alg_server: tuple[str, AuthgateServer],
) -> None:
    alg, server = alg_server
    kty, crv = KEY_TYPES[alg]
    keys = jwks_of(server)["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == kty
        assert key["crv"] == crv
        assert key["alg"] == alg
        assert "d" not in key


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
def test_other_algorithm_tokens_verify_with_joserfc(
    alg_server: tuple[str, AuthgateServer],
) -> None:
    alg, server = alg_server
    address, sub = new_user(server, f"alg-verify-{alg.lower()}")
    with server.public_client() as client:
        tokens = login(client, address)
    decoded = verify_with_joserfc(server, tokens["access_token"], alg)
    assert decoded.header["alg"] == alg
    assert decoded.claims["sub"] == sub
    assert decoded.claims["token_use"] == "access"


# -- secrets at rest -------------------------------------------------------------------------


def test_refresh_tokens_are_not_stored_in_clear(server: AuthgateServer, backend: str) -> None:
    address, _ = new_user(server, "at-rest-refresh")
    with server.public_client() as client:
        tokens = login(client, address)
        rotated = refresh(client, tokens["refresh_token"]).json()
    issued = [tokens["refresh_token"], rotated["refresh_token"]]
    for table in ("refresh_tokens", "refresh_families"):
        rows = rows_of(server, backend, table)
        assert rows
        for row in rows:
            for value in row.values():
                stored = as_bytes(value)
                for token in issued:
                    assert token.encode() not in stored


def test_signing_keys_are_encrypted_at_rest(server: AuthgateServer, backend: str) -> None:
    rows = rows_of(server, backend, "signing_keys")
    assert rows
    for row in rows:
        ciphertext = as_bytes(row["private_key_ciphertext"])
        assert ciphertext
        assert b"PRIVATE KEY" not in ciphertext
        assert b"-----BEGIN" not in ciphertext


def test_one_time_codes_are_not_stored_in_clear(server: AuthgateServer, backend: str) -> None:
    address = unique_email("at-rest-code")
    with server.public_client() as client:
        created = client.post("/v1/signup", json={"email": address, "password": PASSWORD})
    assert created.status_code == 201
    sub = created.json()["sub"]
    code = server.wait_for_mail(address).code
    assert code
    rows = [row for row in rows_of(server, backend, "one_time_codes") if row["sub"] == sub]
    assert rows
    for row in rows:
        for name, value in row.items():
            if isinstance(value, str | bytes):
                assert code.encode() not in as_bytes(value), name
