"""What the federation tests share: a second authgate as the upstream OpenID Provider, a
small provider served by the test itself (for answers a real provider would never give:
forged ID tokens, a wrong nonce), and a person's browser across both origins.

The provider runs on "localhost" and the authgate under test on 127.0.0.1: browsers keep
cookies per host, not per port, and both servers name their session cookie alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.browser import Page
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"

TokenMaker = Callable[[dict[str, Any]], str]
"""Given the claims a valid ID token would carry, the `id_token` the provider answers."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakeProvider:
    """An OpenID Provider in the test process: discovery, JWKS, an authorize endpoint that
    answers at once (no sign-in), and a token endpoint whose ID token `make_token` makes."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    claims: dict[str, Any] = field(default_factory=dict)
    make_token: TokenMaker | None = None
    kid: str = "fake-1"
    padding: int = 0
    """Bytes of filler in the metadata document (to go past a size cap)."""
    codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, provider.metadata)
                elif parts.path == "/jwks":
                    self._json(200, {"keys": [provider.public_jwk]})
                elif parts.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = (
                        query["nonce"],
                        query["code_challenge"],
                        query["client_id"],
                    )
                    answer = {"code": code, "state": query["state"], "iss": provider.issuer}
                    self.send_response(302)
                    self.send_header("Location", f"{query['redirect_uri']}?{urlencode(answer)}")
                    self.end_headers()
                else:
                    self._json(404, {})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.token_requests.append(
                    {**form, "authorization": self.headers.get("Authorization", "")}
                )
                found = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                challenge = b64(hashlib.sha256(verifier.encode()).digest())
                if found is None or not hmac.compare_digest(found[1], challenge):
                    self._json(400, {"error": "invalid_grant"})
                    return
                nonce, _, client_id = found
                now = int(time.time())
                claims = {
                    "iss": provider.issuer,
                    "aud": client_id,
                    "iat": now,
                    "exp": now + 300,
                    "nonce": nonce,
                    **provider.claims,
                }
                maker = provider.make_token or provider.sign
                self._json(
                    200, {"access_token": "at", "token_type": "Bearer", "id_token": maker(claims)}
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "authorization_response_iss_parameter_supported": True,
            **({"filler": "x" * self.padding} if self.padding else {}),
        }

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(
            pyjwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key())
        )
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    @property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any]) -> str:
        return pyjwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    @contextmanager
    def answering(self, claims: dict[str, Any], maker: TokenMaker | None = None) -> Iterator[None]:
        """The next sign-ins are of `claims` (sub, email...), their ID token made by `maker`."""
        self.claims, self.make_token = claims, maker
        try:
            yield
        finally:
            self.claims, self.make_token = {}, None

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Person:
    """A browser across origins, played with httpx: it keeps cookies per host, follows no
    redirect by itself, and reads forms with the pages' parser."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=30, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code in (302, 303), f"{response.status_code}: {response.text[:300]}"
        return self.http.get(urljoin(str(response.url), response.headers["location"]))

    def post_form(self, page: httpx.Response, action_suffix: str, **values: str) -> httpx.Response:
        """Post the page's form whose action ends with `action_suffix`."""
        (form,) = [f for f in Page(page.text).forms if f.action.endswith(action_suffix)]
        return self.http.post(urljoin(str(page.url), form.action), data={**form.fields, **values})

    def start(
        self, server: AuthgateServer, provider: str, path: str = "/auth/login"
    ) -> httpx.Response:
        """Press the provider's button on the sign-in page: the redirect to the provider."""
        page = self.get(server.public + path)
        assert page.status_code == 200, page.text
        answer = self.post_form(page, f"/federation/{provider}/start")
        assert answer.status_code == 303, f"{answer.status_code}: {answer.text[:1000]}"
        return answer

    def at_provider(self, to_provider: httpx.Response, email: str) -> httpx.Response:
        """Sign in at an authgate provider; the redirect back to our callback."""
        login = self.follow(self.follow(to_provider))
        assert "/auth/login" in str(login.url), login.text[:300]
        return self.post_form(login, "/auth/login", username=email, password=PASSWORD)

    def sign_in_via_authgate(
        self, server: AuthgateServer, email: str, name: str = "corp"
    ) -> httpx.Response:
        """The round trip through a provider that is an authgate: the callback's answer."""
        back = self.at_provider(self.start(server, name), email)
        assert back.headers["location"].startswith(f"{server.public}/oauth2/callback/{name}?")
        return self.follow(back)

    def sign_in_via_fake(self, server: AuthgateServer, name: str) -> httpx.Response:
        """The round trip through the fake provider (which answers at once)."""
        return self.follow(self.follow(self.start(server, name)))


def me(server: AuthgateServer, person: Person) -> dict[str, Any]:
    """The signed-in person's profile (/v1/me), with a token from the session they hold."""
    session = person.http.cookies.get("authgate_session", domain="127.0.0.1")
    assert session, "not signed in"
    verifier = secrets.token_urlsafe(48)
    challenge = b64(hashlib.sha256(verifier.encode()).digest())
    with server.admin_client() as admin:
        client = admin.post(
            "/admin/clients",
            json={
                "client_name": "me",
                "grant_types": ["authorization_code"],
                "redirect_uris": ["https://app.example/cb"],
                "token_endpoint_auth_method": "none",
                "scope": "openid email",
                "first_party": True,
            },
        ).json()
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": "https://app.example/cb",
        "scope": "openid email",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    answer = person.get(f"{server.public}/oauth2/authorize?{urlencode(query)}")
    assert answer.status_code == 303, answer.text[:300]
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    tokens = httpx.post(
        f"{server.public}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example/cb",
            "client_id": client["client_id"],
            "code_verifier": verifier,
        },
    ).json()
    found = httpx.get(
        f"{server.public}/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert found.status_code == 200, found.text
    profile: dict[str, Any] = found.json()
    return profile


def start_pair(
    make_server: ServerFactory,
    secret_dir: Path,
    others: list[dict[str, Any]],
    **ours_config: Any,
) -> tuple[AuthgateServer, AuthgateServer]:
    """(ours, upstream): an upstream authgate on "localhost" with a first-party client for
    ours, and ours with it as provider "corp" (plus `others`, and `ours_config`). The
    client's redirect URI names ours's callback, known once ours has its port."""
    upstream = make_server(issuer_host="localhost")
    with upstream.admin_client() as admin:
        created = admin.post(
            "/admin/clients",
            json={
                "client_name": "authgate under test",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "redirect_uris": ["http://127.0.0.1:9/not-yet"],
                "scope": "openid email profile",
                "token_endpoint_auth_method": "client_secret_basic",
                "first_party": True,
            },
        )
    assert created.status_code == 201, created.text
    client = created.json()
    secret_file = secret_dir / "corp"
    secret_file.write_text(client["client_secret"])
    corp = {
        "name": "corp",
        "display_name": "Corporate account",
        "issuer": upstream.config["issuer"],
        "client_id": client["client_id"],
        "client_secret": f"file:{secret_file}",
        "link_by_verified_email": True,
    }
    ours = make_server(identity_providers=[corp, *others], **ours_config)
    with upstream.admin_client() as admin:
        changed = admin.patch(
            f"/admin/clients/{client['client_id']}",
            json={"redirect_uris": [f"{ours.public}/oauth2/callback/corp"]},
        )
    assert changed.status_code == 200, changed.text
    return ours, upstream


def upstream_user(upstream: AuthgateServer, *, verified: bool = True, email: str) -> str:
    """The sub of a new confirmed user at the upstream authgate."""
    body = {"email": email, "password": PASSWORD, "email_verified": verified}
    with upstream.admin_client() as admin:
        created = admin.post("/admin/users", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["sub"])
