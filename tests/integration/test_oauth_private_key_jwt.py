"""`private_key_jwt` client authentication (RFC 7523 2.2, OIDC Core 9) against a real server,
with assertions built by Authlib (and joserfc for the malformed ones): at the token,
introspection and revocation endpoints, keys registered inline or at a loopback jwks_uri."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    RESOURCE_SCOPES,
    assert_oauth_error,
    client_token,
    machine,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "The httpx module is deprecated", DeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

pytestmark = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
Key = RSAKey | ECKey | OKPKey


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": RESOURCE_SCOPES})


class KeyHost:
    """A loopback HTTP server publishing a JWK Set, counting the fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.fetches += 1
                body = json.dumps(host.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def key_host() -> Iterator[KeyHost]:
    host = KeyHost()
    yield host
    host.httpd.shutdown()


def new_key(alg: str = "RS256") -> Key:
    kid = secrets.token_hex(4)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters={"kid": kid})
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519", parameters={"kid": kid})
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def public_set(*keys: Key) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def keyed_client(
    server: AuthgateServer, key: Key | None = None, **fields: Any
) -> tuple[dict[str, Any], Key]:
    key = key or new_key()
    fields.setdefault("jwks", public_set(key))
    return machine(server, "private_key_jwt", **fields), key


def token_endpoint(server: AuthgateServer) -> str:
    return f"{server.public}/oauth2/token"


def authlib_assertion(server: AuthgateServer, client: dict[str, Any], key: Key, alg: str) -> str:
    """The assertion as Authlib builds it (aud: the token endpoint; no kid in the header)."""
    token: str = private_key_jwt_sign(
        key, client["client_id"], token_endpoint(server), alg, expires_in=120
    )
    return token


def assertion(
    server: AuthgateServer,
    client: dict[str, Any],
    key: Key,
    alg: str = "RS256",
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A hand-made assertion: valid unless `claims`, `header` or `drop` say otherwise."""
    now = int(time.time())
    body = {
        "iss": client["client_id"],
        "sub": client["client_id"],
        "aud": token_endpoint(server),
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
        **claims,
    }
    for name in drop:
        body.pop(name)
    token: str = jwt.encode({"alg": alg, **(header or {})}, body, key, algorithms=[alg])
    return token


def post(
    server: AuthgateServer, path: str, signed: str, client_id: str | None = None, **form: str
) -> httpx.Response:
    data = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed, **form}
    if client_id is not None:
        data["client_id"] = client_id
    with server.public_client() as http:
        return http.post(path, data=data)


def get_token(server: AuthgateServer, token: str, **form: str) -> httpx.Response:
    return post(server, "/oauth2/token", token, grant_type="client_credentials", **form)


# -- what works -----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_an_authlib_assertion_gets_a_client_credentials_token(
    server: AuthgateServer, alg: str
) -> None:
    client, key = keyed_client(server, new_key(alg))
    answer = get_token(server, authlib_assertion(server, client, key, alg))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"


def test_authlibs_oauth2_client_authenticates_with_private_key_jwt(
    server: AuthgateServer,
) -> None:
    client, key = keyed_client(server)
    endpoint = token_endpoint(server)
    # Authlib's default exp is an hour ahead; this server takes at most five minutes.
    method = PrivateKeyJWT(endpoint, claims={"exp": int(time.time()) + 120})
    with OAuth2Client(
        client["client_id"], key, token_endpoint_auth_method=method, scope="orders:read"
    ) as oauth:
        token = oauth.fetch_token(endpoint, grant_type="client_credentials")
    assert token["scope"] == "orders:read"


def test_the_issuer_is_an_accepted_audience(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    answer = get_token(server, assertion(server, client, key, aud=server.public))
    assert answer.status_code == 200, answer.text


def test_client_id_in_the_form_may_accompany_the_assertion(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    form = {"client_id": client["client_id"]}
    answer = get_token(server, assertion(server, client, key), **form)
    assert answer.status_code == 200, answer.text


def test_introspection_accepts_private_key_jwt(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    issued = client_token(server, machine(server))["access_token"]
    answer = post(server, "/oauth2/introspect", assertion(server, client, key), token=issued)
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is True


def test_revocation_accepts_private_key_jwt(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    issued = get_token(server, assertion(server, client, key)).json()["access_token"]
    revoked = post(server, "/oauth2/revoke", assertion(server, client, key), token=issued)
    assert revoked.status_code == 200, revoked.text
    resource, resource_key = keyed_client(server)
    seen = post(
        server, "/oauth2/introspect", assertion(server, resource, resource_key), token=issued
    )
    assert seen.json() == {"active": False}


def test_keys_at_a_loopback_jwks_uri_are_fetched_once_and_cached(
    server: AuthgateServer, key_host: KeyHost
) -> None:
    key = new_key("ES256")
    key_host.document = public_set(key)
    client, _ = keyed_client(server, key, jwks=None, jwks_uri=key_host.url)
    before = key_host.fetches
    for _ in range(3):
        answer = get_token(server, assertion(server, client, key, "ES256"))
        assert answer.status_code == 200, answer.text
    assert key_host.fetches - before == 1


# -- replay ---------------------------------------------------------------------------------


def test_an_assertion_authenticates_only_once(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    token = assertion(server, client, key)
    assert get_token(server, token).status_code == 200
    assert_oauth_error(get_token(server, token), 401, "invalid_client")


def test_an_assertion_sent_many_times_at_once_authenticates_once(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    token = assertion(server, client, key)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: get_token(server, token).status_code, range(8)))
    assert sorted(answers) == [200] + [401] * 7


def test_a_replayed_assertion_is_refused_at_another_endpoint(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    token = assertion(server, client, key)
    assert get_token(server, token).status_code == 200
    answer = post(server, "/oauth2/introspect", token, token="anything")
    assert_oauth_error(answer, 401, "invalid_client")


# -- what is refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "drop"),
    [
        ({"aud": "https://other.example/oauth2/token"}, ()),
        ({"aud": ["https://other.example", "ISSUER"]}, ()),
        ({"aud": []}, ()),
        ({}, ("aud",)),
        ({}, ("exp",)),
        ({"exp": "tomorrow"}, ()),
        ({"exp": "FAR"}, ()),
        ({"exp": "PAST"}, ()),
        ({"nbf": "FUTURE"}, ()),
        ({"iat": "FUTURE"}, ()),
        ({}, ("jti",)),
        ({"jti": ""}, ()),
        ({"iss": "someone-else"}, ()),
        ({}, ("sub",)),
    ],
    ids=[
        "other-audience",
        "audience-list-with-another-server",
        "empty-audience",
        "no-aud",
        "no-exp",
        "exp-not-a-number",
        "exp-an-hour-ahead",
        "expired",
        "nbf-in-the-future",
        "iat-in-the-future",
        "no-jti",
        "empty-jti",
        "iss-not-sub",
        "no-sub",
    ],
)
def test_an_assertion_with_bad_claims_is_refused(
    server: AuthgateServer, claims: dict[str, Any], drop: tuple[str, ...]
) -> None:
    client, key = keyed_client(server)
    moment = int(time.time())
    times = {"FAR": moment + 3600, "PAST": moment - 600, "FUTURE": moment + 600}
    values = {
        name: (
            times.get(value, value)
            if not isinstance(value, list)
            else [server.public if v == "ISSUER" else v for v in value]
        )
        for name, value in claims.items()
    }
    answer = get_token(server, assertion(server, client, key, drop=drop, **values))
    assert_oauth_error(answer, 401, "invalid_client")


def test_an_assertion_signed_by_an_unregistered_key_is_refused(server: AuthgateServer) -> None:
    client, _ = keyed_client(server)
    answer = get_token(server, assertion(server, client, new_key()))
    assert_oauth_error(answer, 401, "invalid_client")


def test_an_assertion_naming_another_client_is_refused(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    other, _ = keyed_client(server)
    token = assertion(server, client, key, iss=other["client_id"], sub=other["client_id"])
    assert_oauth_error(get_token(server, token), 401, "invalid_client")


def test_client_id_in_the_form_must_match_the_assertion(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    other, _ = keyed_client(server)
    answer = get_token(server, assertion(server, client, key), client_id=other["client_id"])
    assert_oauth_error(answer, 401, "invalid_client")


def test_hs256_keyed_with_the_public_key_is_refused(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    _, payload, _ = assertion(server, client, key).split(".")
    header = b64url(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    for secret in (key.as_pem(private=False), json.dumps(key.as_dict(private=False)).encode()):
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        token = f"{header}.{payload}.{b64url(mac)}"
        assert_oauth_error(get_token(server, token), 401, "invalid_client")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_alg_none_is_refused(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    signed = assertion(server, client, key)
    _, payload, _ = signed.split(".")
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    assert_oauth_error(get_token(server, f"{header}.{payload}."), 401, "invalid_client")


@pytest.mark.parametrize("part", [0, 1], ids=["header", "claims"])
def test_deeply_nested_json_is_refused_not_a_server_error(
    server: AuthgateServer, part: int
) -> None:
    client, key = keyed_client(server)
    segments = assertion(server, client, key).split(".")
    segments[part] = b64url(b"[" * 2500 + b"]" * 2500)
    assert_oauth_error(get_token(server, ".".join(segments)), 401, "invalid_client")


def test_an_embedded_jwk_is_not_trusted(server: AuthgateServer) -> None:
    client, _ = keyed_client(server)
    attacker = new_key()
    token = assertion(server, client, attacker, header={"jwk": attacker.as_dict(private=False)})
    assert_oauth_error(get_token(server, token), 401, "invalid_client")


def test_an_alg_other_than_the_registered_one_is_refused(server: AuthgateServer) -> None:
    rsa, ec = new_key("RS256"), new_key("ES256")
    client, _ = keyed_client(
        server, rsa, jwks=public_set(rsa, ec), token_endpoint_auth_signing_alg="RS256"
    )
    assert get_token(server, assertion(server, client, rsa)).status_code == 200
    answer = get_token(server, assertion(server, client, ec, "ES256"))
    assert_oauth_error(answer, 401, "invalid_client")


def test_a_secret_client_cannot_authenticate_with_an_assertion(server: AuthgateServer) -> None:
    client = machine(server)
    token = assertion(server, client, new_key())
    assert_oauth_error(get_token(server, token), 401, "invalid_client")


def test_a_private_key_jwt_client_cannot_authenticate_with_a_secret(
    server: AuthgateServer,
) -> None:
    client, _ = keyed_client(server)
    assert "client_secret" not in client
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], "guess"),
        )
    assert_oauth_error(answer, 401, "invalid_client")


def test_an_assertion_and_a_secret_together_are_refused(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    answer = get_token(server, assertion(server, client, key), client_secret="x")
    assert_oauth_error(answer, 400, "invalid_request")


def test_an_unknown_assertion_type_is_refused(server: AuthgateServer) -> None:
    client, key = keyed_client(server)
    with server.public_client() as http:
        answer = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                "client_assertion": assertion(server, client, key),
            },
        )
    assert_oauth_error(answer, 401, "invalid_client")


# -- registration and discovery -------------------------------------------------------------


def register(server: AuthgateServer, **fields: Any) -> httpx.Response:
    body = {
        "client_name": "keyed",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        **fields,
    }
    with server.admin_client() as admin:
        return admin.post("/admin/clients", json=body)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"jwks": {"keys": []}},
        {"jwks": "KEYS", "jwks_uri": "https://keys.example/jwks.json"},
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
        {"jwks": "PRIVATE"},
        {"jwks": "RSA1024"},
        {"jwks_uri": "http://keys.example/jwks.json"},
        {"jwks_uri": "file:///etc/passwd"},
        {"jwks": "KEYS", "grant_types": ["password"]},
    ],
    ids=[
        "no-keys",
        "empty-set",
        "both-jwks-and-uri",
        "symmetric-key",
        "private-key",
        "short-rsa-key",
        "plain-http-uri",
        "file-uri",
        "password-grant",
    ],
)
def test_registration_refuses_unusable_keys(server: AuthgateServer, fields: dict[str, Any]) -> None:
    key = new_key()
    values = {
        "KEYS": public_set(key),
        "PRIVATE": {"keys": [key.as_dict(private=True)]},
        "RSA1024": {"keys": [RSAKey.generate_key(1024, private=False).as_dict()]},
    }
    body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    answer = register(server, **body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"


def test_registration_of_a_private_key_jwt_client_issues_no_secret(
    server: AuthgateServer,
) -> None:
    answer = register(server, jwks=public_set(new_key()))
    assert answer.status_code == 201, answer.text
    assert "client_secret" not in answer.json()


def test_discovery_advertises_private_key_jwt_and_its_algorithms(server: AuthgateServer) -> None:
    with server.public_client() as http:
        document = http.get("/.well-known/openid-configuration").json()
    for endpoint in ("token", "introspection", "revocation"):
        assert "private_key_jwt" in document[f"{endpoint}_endpoint_auth_methods_supported"]
        algs = document[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
        assert algs == ["RS256", "ES256", "EdDSA"]
