"""What the OAuth token-side tests share: clients, people, codes obtained through the hosted
pages, token requests, and the checks every RFC 6749 §5.2 answer must pass."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.interop_signin import drive

PASSWORD = "lemon tree 4 harbour"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: only the Location is read
USER_SCOPE = "openid profile email offline_access"
RESOURCE_SCOPES = {"orders:read": "Read orders", "orders:write": "Write orders"}


def register(server: AuthgateServer, **fields: Any) -> dict[str, Any]:
    """A client created through the admin API; the answer carries its secret, once."""
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json={"client_name": "test", **fields})
    assert created.status_code == 201, created.text
    client: dict[str, Any] = created.json()
    return client


def machine(
    server: AuthgateServer, method: str = "client_secret_basic", **fields: Any
) -> dict[str, Any]:
    """A confidential client for the client_credentials grant."""
    values: dict[str, Any] = {
        "grant_types": ["client_credentials"],
        "scope": "orders:read orders:write",
        "token_endpoint_auth_method": method,
        **fields,
    }
    return register(server, **values)


def web_app(
    server: AuthgateServer, method: str = "client_secret_basic", **fields: Any
) -> dict[str, Any]:
    """A first-party client for the code flow (no consent page on the way)."""
    values: dict[str, Any] = {
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
        "scope": USER_SCOPE,
        "token_endpoint_auth_method": method,
        "first_party": True,
        **fields,
    }
    return register(server, **values)


def person(server: AuthgateServer, **attributes: Any) -> tuple[str, str]:
    """(email, sub) of a confirmed user with a verified address."""
    address = unique_email("oauth")
    body = {
        "email": address,
        "password": PASSWORD,
        "email_verified": True,
        "attributes": attributes,
    }
    with server.admin_client() as admin:
        created = admin.post("/admin/users", json=body)
    assert created.status_code == 201, created.text
    return address, str(created.json()["sub"])


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def obtain_code(
    server: AuthgateServer,
    client: dict[str, Any],
    email: str,
    *,
    scope: str = USER_SCOPE,
    nonce: str | None = None,
    challenge: str | None = None,
    pkce: bool = True,
) -> tuple[str, str | None]:
    """(code, verifier): the authorization request, signed in at the hosted page."""
    verifier = None
    if pkce and challenge is None:
        verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": secrets.token_urlsafe(8),
    }
    if nonce is not None:
        params["nonce"] = nonce
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    url = f"{server.public}/oauth2/authorize?{urlencode(params)}"
    with httpx.Client(timeout=30) as browser:
        journey = drive(browser, url, REDIRECT_URI, email, PASSWORD)
    query = parse_qs(urlsplit(journey.location).query)
    assert "code" in query, journey.location
    return query["code"][0], verifier


def client_auth(client: dict[str, Any]) -> dict[str, Any]:
    """httpx arguments that authenticate `client` the way it is registered to."""
    method = client["token_endpoint_auth_method"]
    if method == "client_secret_basic":
        return {"auth": (client["client_id"], client["client_secret"])}
    if method == "client_secret_post":
        return {
            "data": {"client_id": client["client_id"], "client_secret": client["client_secret"]}
        }
    return {"data": {"client_id": client["client_id"]}}


def post_form(
    server: AuthgateServer, path: str, client: dict[str, Any] | None, **form: str
) -> httpx.Response:
    """POST a form to `path`, authenticated as `client` (None: no authentication at all)."""
    auth = client_auth(client) if client is not None else {}
    data = {**auth.pop("data", {}), **form}
    with server.public_client() as http:
        return http.post(path, data=data, **auth)


def token_request(
    server: AuthgateServer, client: dict[str, Any] | None, **form: str
) -> httpx.Response:
    return post_form(server, "/oauth2/token", client, **form)


def code_tokens(
    server: AuthgateServer,
    client: dict[str, Any],
    email: str,
    *,
    scope: str = USER_SCOPE,
    nonce: str | None = None,
) -> dict[str, Any]:
    """The token response of a whole code flow."""
    code, verifier = obtain_code(server, client, email, scope=scope, nonce=nonce)
    exchange = {"code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        exchange["code_verifier"] = verifier
    answer = token_request(server, client, grant_type="authorization_code", **exchange)
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def client_token(server: AuthgateServer, client: dict[str, Any], **form: str) -> dict[str, Any]:
    answer = token_request(server, client, grant_type="client_credentials", **form)
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def jose_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWS, unverified: for looking, never for trusting."""
    header, payload, _ = token.split(".")

    def decode(segment: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        )
        return value

    return decode(header), decode(payload)


def half_hash(value: str) -> str:
    """OIDC at_hash for RS256: base64url of the left half of SHA-256."""
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def introspect(
    server: AuthgateServer, client: dict[str, Any], token: str, **form: str
) -> dict[str, Any]:
    answer = post_form(server, "/oauth2/introspect", client, token=token, **form)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def assert_no_store(answer: httpx.Response) -> None:
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"


def assert_oauth_error(answer: httpx.Response, status: int, error: str) -> None:
    """RFC 6749 §5.2: status, JSON {error, error_description}, no caching; a 401 challenges."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["error"] == error
    assert isinstance(body.get("error_description"), str)
    assert_no_store(answer)
    if status == 401:
        assert answer.headers["www-authenticate"] == 'Basic realm="authgate"'
    else:
        assert "www-authenticate" not in answer.headers
