"""A person's browser at the hosted pages, played with plain HTTP (httpx), for the tests.

It keeps cookies and never follows a redirect by itself, so every step can be looked at:
read a page's forms (action, hidden fields, buttons) with the stdlib HTML parser, post
them, and resolve each Location against the page it came from, as a browser would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
REDIRECT_URI = "https://app.example/callback"
LOGOUT_URI = "https://app.example/signed-out"


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    inputs: list[dict[str, str]] = field(default_factory=list)
    buttons: list[dict[str, str]] = field(default_factory=list)


class Page(HTMLParser):
    """The parts of a page the tests look at: forms, inputs, labels, headings, links."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.labels: list[str] = []
        self.text: list[str] = []
        self._form: Form | None = None
        self._label: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if tag == "form":
            self._form = Form(values.get("action", ""), values.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag == "label":
            self.labels.append(values.get("for", ""))
        elif self._form is not None and tag == "input":
            self._form.inputs.append(values)
            if values.get("type") == "hidden":
                self._form.fields[values["name"]] = values.get("value", "")
        elif self._form is not None and tag == "button":
            self._form.buttons.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def form(self) -> Form:
        (form,) = [f for f in self.forms if f.method == "post"]
        return form


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's payload, read without verifying it (only to look at its claims)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def answer_of(location: str) -> dict[str, str]:
    """The parameters a redirect hands the client, from its query or its fragment."""
    parts = urlsplit(location)
    encoded = parts.fragment or parts.query
    return {k: v[0] for k, v in parse_qs(encoded, keep_blank_values=True).items()}


def create_user(server: AuthgateServer, email: str, password: str = PASSWORD) -> str:
    with server.admin_client() as admin:
        created = admin.post("/admin/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    return str(created.json()["sub"])


def create_client(server: AuthgateServer, **metadata: Any) -> dict[str, Any]:
    """A client for the code flow: public, one redirect URI, openid profile email."""
    body = {
        "client_name": "Shop",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile email",
        **metadata,
    }
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=body)
    assert created.status_code == 201, created.text
    client: dict[str, Any] = created.json()
    return client


def code_request(client: dict[str, Any], **params: str | None) -> dict[str, str]:
    """A valid authorization request for `client`, with `params` changed (None drops one)."""
    _, challenge = pkce_pair()
    base: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uris"][0],
        "scope": "openid email",
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    return {k: v for k, v in base.items() if v is not None}


class Browser:
    def __init__(self, server: AuthgateServer, local_address: str | None = None) -> None:
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        self.server = server
        self.http = httpx.Client(
            base_url=server.public, timeout=30, follow_redirects=False, transport=transport
        )

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def authorize(self, params: dict[str, str]) -> httpx.Response:
        return self.http.get("/oauth2/authorize", params=params)

    def follow(self, response: httpx.Response) -> httpx.Response:
        """GET where a redirect points, resolved against the URL that answered."""
        assert response.status_code == 303, f"{response.status_code}: {response.text[:300]}"
        return self.http.get(urljoin(str(response.url), response.headers["location"]))

    def submit(self, page: httpx.Response, **values: str) -> httpx.Response:
        """Post the page's form: its hidden fields, overridden or added to by `values`."""
        form = Page(page.text).form
        action = urljoin(str(page.url), form.action)
        return self.http.post(action, data={**form.fields, **values})

    def sign_in(self, page: httpx.Response, email: str, password: str = PASSWORD) -> httpx.Response:
        return self.submit(page, username=email, password=password)

    def cookie(self, name: str) -> str | None:
        return self.http.cookies.get(name)

    def start(self, params: dict[str, str]) -> httpx.Response:
        """The authorization request; returns the page it leads to (sign-in or consent)."""
        return self.follow(self.authorize(params))

    def to_client(
        self,
        params: dict[str, str],
        email: str | None = None,
        allow: bool = True,
    ) -> httpx.Response:
        """Run the request through whatever pages it needs; the redirect back to the client."""
        response = self.authorize(params)
        for _ in range(6):
            assert response.status_code == 303, f"{response.status_code}: {response.text[:300]}"
            if not response.headers["location"].startswith(("/auth/login?", "/auth/consent?")):
                return response
            page = self.follow(response)
            assert page.status_code == 200, page.text
            if "/auth/login" in str(page.url):
                assert email is not None, "the flow asked for a sign-in"
                response = self.sign_in(page, email)
            else:
                response = self.submit(page, decision="allow" if allow else "deny")
        raise AssertionError("the flow never returned to the client")
