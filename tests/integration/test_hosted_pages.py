"""The hosted sign-in and consent pages as a browser sees them: markup, headers, cookies,
CSRF, the sign-in rules of the login path, and consents listed and taken back."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.browser import (
    PASSWORD,
    Browser,
    Page,
    answer_of,
    code_request,
    create_client,
    create_user,
)
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

WRONG_PASSWORD = "wrong guess 9 meadow"
_next_host = iter(range(2, 251))


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        oauth={"scopes": {"orders:read": "Read your orders"}},
        throttle={"login_failures": 3},
    )


@pytest.fixture(scope="module")
def https_server(make_server: ServerFactory) -> AuthgateServer:
    """A server whose issuer is https (it still listens on plain http: cookies are headers)."""
    return make_server(issuer="https://login.example")


@pytest.fixture
def client(server: AuthgateServer) -> dict[str, Any]:
    return create_client(server, scope="openid profile email orders:read")


@pytest.fixture
def email(server: AuthgateServer) -> str:
    address = unique_email("person")
    create_user(server, address)
    return address


@pytest.fixture
def browser(server: AuthgateServer) -> Iterator[Browser]:
    """A browser on a loopback address of its own, so per-address throttling is its own."""
    with Browser(server, local_address=f"127.0.0.{next(_next_host)}") as fresh:
        yield fresh


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        found[header.split("=", 1)[0]] = header
    return found


def attributes(set_cookie: str) -> dict[str, str]:
    parts = [p.strip() for p in set_cookie.split(";")[1:]]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1) + [""])[1] for p in parts}


def error_text(response: httpx.Response) -> str:
    (alert,) = re.findall(r'role="alert">([^<]*)<', response.text)
    return alert


def consent_page(browser: Browser, client: dict[str, Any], email: str, **params: str) -> Any:
    page = browser.start(code_request(client, **params))
    return browser.follow(browser.sign_in(page, email))


# -- the sign-in page ----------------------------------------------------------------------------


def test_the_sign_in_page_is_an_accessible_form(browser: Browser, client: dict[str, Any]) -> None:
    response = browser.start(code_request(client))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = Page(response.text)
    assert re.search(r'<html lang="en">', response.text)
    assert len(page.all("h1")) == 1
    inputs = {i["name"]: i for i in page.form.inputs}
    assert inputs["username"]["autocomplete"] == "username"
    assert inputs["password"]["autocomplete"] == "current-password"
    assert inputs["password"]["type"] == "password"
    assert {"username", "password"} <= set(page.labels)
    assert {i["id"] for i in page.form.inputs if i.get("id")} == set(page.labels)
    assert set(page.form.fields) == {"csrf_token", "ticket"}
    assert [b["type"] for b in page.form.buttons] == ["submit"]


def test_the_sign_in_page_names_the_client(browser: Browser) -> None:
    client = create_client(browser.server, client_name="Orders <b>& Co</b>")
    response = browser.start(code_request(client))
    assert "Orders &lt;b&gt;&amp; Co&lt;/b&gt;" in response.text
    assert "<b>" not in response.text


def test_a_login_hint_fills_in_the_username(browser: Browser, client: dict[str, Any]) -> None:
    response = browser.start(code_request(client, login_hint='ann"@example.com'))
    inputs = {i["name"]: i for i in Page(response.text).form.inputs}
    assert inputs["username"]["value"] == 'ann"@example.com'


@pytest.mark.parametrize("path", ["login", "consent"])
def test_pages_send_security_headers(browser: Browser, client: dict[str, Any], path: str) -> None:
    response = browser.http.get(f"/auth/{path}", params={"ticket": "x"})
    ok = browser.start(code_request(client))
    for answer in (response, ok):
        headers = answer.headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src" not in policy
        assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'(;|$)", policy)
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_the_inline_stylesheet_is_the_one_the_policy_allows(
    browser: Browser, client: dict[str, Any]
) -> None:
    response = browser.start(code_request(client))
    (css,) = re.findall(r"<style>(.*?)</style>", response.text, re.S)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in response.headers["content-security-policy"]


def test_pages_load_nothing_from_elsewhere(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    sign_in = browser.start(code_request(client))
    consent = browser.follow(browser.sign_in(sign_in, email))
    for response in (sign_in, consent):
        page = Page(response.text)
        assert not page.all("script") and not page.all("img") and not page.all("link")
        assert not page.all("iframe")
        urls = [v for _, attrs in page.tags for k, v in attrs.items() if k in ("src", "href")]
        assert all(not re.match(r"([a-z]+:)?//", u) for u in urls), urls
        assert not re.search(r"url\(|@import", response.text)


def test_a_tampered_ticket_is_refused(browser: Browser, client: dict[str, Any]) -> None:
    page = browser.start(code_request(client))
    ticket = Page(page.text).form.fields["ticket"]
    header, payload, signature = ticket.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["par"]["scope"] = "openid profile email orders:read"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = browser.http.get("/auth/login", params={"ticket": f"{header}.{forged}.{signature}"})
    assert response.status_code == 400
    assert "<form" not in response.text


@pytest.mark.parametrize("ticket", ["", "garbage", "a.b.c"])
def test_a_missing_or_garbled_ticket_shows_an_error_page(browser: Browser, ticket: str) -> None:
    response = browser.http.get("/auth/login", params={"ticket": ticket})
    assert response.status_code == 400
    assert "<form" not in response.text


def test_an_id_token_is_not_a_ticket(browser: Browser, email: str) -> None:
    with browser.server.public_client() as http:
        tokens = http.post("/v1/login", json={"username": email, "password": PASSWORD}).json()
    for token in (tokens["id_token"], tokens["access_token"]):
        response = browser.http.get("/auth/login", params={"ticket": token})
        assert response.status_code == 400


# -- signing in ----------------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    page = browser.start(code_request(client))
    wrong = browser.sign_in(page, email, WRONG_PASSWORD)
    unknown = browser.sign_in(page, unique_email("nobody"), WRONG_PASSWORD)
    assert wrong.status_code == unknown.status_code == 400
    assert error_text(wrong) == error_text(unknown) == "The username or password is incorrect."
    assert "set-cookie" not in wrong.headers or "authgate_session" not in set_cookies(wrong)


def test_the_form_comes_back_with_the_username_after_a_failure(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    failed = browser.sign_in(browser.start(code_request(client)), email, WRONG_PASSWORD)
    inputs = {i["name"]: i for i in Page(failed.text).form.inputs}
    assert inputs["username"]["value"] == email
    assert inputs["password"].get("value", "") == ""


def test_repeated_failures_lock_the_username_out(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    for _ in range(3):
        with Browser(server, local_address=f"127.0.0.{next(_next_host)}") as browser:
            browser.sign_in(browser.start(code_request(client)), email, WRONG_PASSWORD)
    with Browser(server, local_address=f"127.0.0.{next(_next_host)}") as browser:
        locked = browser.sign_in(browser.start(code_request(client)), email)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "authgate_session" not in set_cookies(locked)


def test_a_disabled_account_is_told_only_after_the_right_password(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    with server.admin_client() as admin:
        sub = admin.get("/admin/users", params={"email_prefix": email}).json()["items"][0]["sub"]
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
    page = browser.start(code_request(client))
    assert browser.sign_in(page, email, WRONG_PASSWORD).status_code == 400
    refused = browser.sign_in(page, email)
    assert refused.status_code == 403
    assert error_text(refused) == "This account is disabled."


def test_an_unconfirmed_account_is_told_only_after_the_right_password(
    server: AuthgateServer, browser: Browser, client: dict[str, Any]
) -> None:
    email = unique_email("unconfirmed")
    with server.public_client() as http:
        http.post("/v1/signup", json={"email": email, "password": PASSWORD})
    page = browser.start(code_request(client))
    assert browser.sign_in(page, email, WRONG_PASSWORD).status_code == 400
    refused = browser.sign_in(page, email)
    assert refused.status_code == 403
    assert "not confirmed" in error_text(refused)


def test_a_user_with_a_temporary_password_chooses_a_new_one(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    with server.admin_client() as admin:
        sub = admin.get("/admin/users", params={"email_prefix": email}).json()["items"][0]["sub"]
        temporary = "temporary pass 5 word"
        body = {"password": temporary, "permanent": False}
        assert admin.put(f"/admin/users/{sub}/password", json=body).status_code == 200
    asked = browser.sign_in(browser.start(code_request(client)), email, temporary)
    assert asked.status_code == 200
    fields = {i["name"]: i for i in Page(asked.text).form.inputs}
    assert fields["new_password"]["autocomplete"] == "new-password"
    weak = browser.submit(asked, username=email, password=temporary, new_password="short")
    assert weak.status_code == 400
    done = browser.submit(asked, username=email, password=temporary, new_password=PASSWORD)
    assert done.status_code == 303
    assert done.headers["location"].startswith("/auth/consent?")


def test_an_empty_form_asks_again(browser: Browser, client: dict[str, Any]) -> None:
    response = browser.sign_in(browser.start(code_request(client)), "", "")
    assert response.status_code == 400
    assert error_text(response) == "Enter your username and password."


# -- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "x" * 43, "wrong"])
def test_sign_in_without_the_matching_csrf_token_is_forbidden(
    browser: Browser, client: dict[str, Any], email: str, token: str | None
) -> None:
    page = browser.start(code_request(client))
    fields = {**Page(page.text).form.fields, "username": email, "password": PASSWORD}
    if token is None:
        del fields["csrf_token"]
    else:
        fields["csrf_token"] = token
    response = browser.http.post("/auth/login", data=fields)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "authgate_session" not in set_cookies(response)


def test_sign_in_without_the_csrf_cookie_is_forbidden(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    page = browser.start(code_request(client))
    fields = {**Page(page.text).form.fields, "username": email, "password": PASSWORD}
    with Browser(server) as other:  # the token without its cookie, as a forged form would send
        response = other.http.post("/auth/login", data=fields)
    assert response.status_code == 403


def test_sign_in_posted_from_another_origin_is_forbidden(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    page = browser.start(code_request(client))
    fields = {**Page(page.text).form.fields, "username": email, "password": PASSWORD}
    headers = {"Origin": "https://evil.example"}
    response = browser.http.post("/auth/login", data=fields, headers=headers)
    assert response.status_code == 403


def test_sign_in_posted_from_the_issuers_own_origin_is_accepted(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    page = browser.start(code_request(client))
    fields = {**Page(page.text).form.fields, "username": email, "password": PASSWORD}
    headers = {"Origin": server.public}
    response = browser.http.post("/auth/login", data=fields, headers=headers)
    assert response.status_code == 303


def test_consent_without_the_matching_csrf_token_is_forbidden(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    page = consent_page(browser, client, email)
    response = browser.submit(page, decision="allow", csrf_token="A" * 43)
    assert response.status_code == 403
    assert "location" not in response.headers


def test_the_csrf_token_stays_the_same_across_pages(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    sign_in = browser.start(code_request(client))
    consent = browser.follow(browser.sign_in(sign_in, email))
    token = Page(sign_in.text).form.fields["csrf_token"]
    assert Page(consent.text).form.fields["csrf_token"] == token == browser.cookie("authgate_csrf")


# -- cookies -------------------------------------------------------------------------------------


def test_the_session_cookie_is_http_only_lax_and_site_wide(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    response = browser.sign_in(browser.start(code_request(client)), email)
    cookie = set_cookies(response)["authgate_session"]
    value = cookie.split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    attrs = attributes(cookie)
    assert "httponly" in attrs
    assert attrs["samesite"] == "Lax"
    assert attrs["path"] == "/"
    assert int(attrs["max-age"]) == 12 * 3600
    assert "secure" not in attrs
    assert "domain" not in attrs


def test_the_csrf_cookie_is_http_only_and_lax(browser: Browser, client: dict[str, Any]) -> None:
    response = browser.start(code_request(client))
    attrs = attributes(set_cookies(response)["authgate_csrf"])
    assert "httponly" in attrs and attrs["samesite"] == "Lax" and attrs["path"] == "/"
    assert "secure" not in attrs


def test_cookies_are_secure_when_the_issuer_is_https(https_server: AuthgateServer) -> None:
    create_user(https_server, email := unique_email("secure"))
    client = create_client(https_server, first_party=True)
    params = code_request(client)
    with Browser(https_server) as browser:
        page = browser.start(params)
        csrf = set_cookies(page)["__Host-authgate_csrf"]
        # httpx keeps Secure cookies away from http URLs: hand the token back as a browser
        # on https would.
        token = csrf.split(";")[0].split("=", 1)[1]
        fields = {**Page(page.text).form.fields, "username": email, "password": PASSWORD}
        signed_in = browser.http.post(
            "/auth/login", data=fields, headers={"Cookie": f"__Host-authgate_csrf={token}"}
        )
    assert signed_in.status_code == 303, signed_in.text
    assert answer_of(signed_in.headers["location"])["iss"] == "https://login.example"
    for cookie in (csrf, set_cookies(signed_in)["authgate_session"]):
        attrs = attributes(cookie)
        assert "secure" in attrs and "httponly" in attrs
        assert attrs["samesite"] == "Lax" and attrs["path"] == "/"


def test_signing_in_again_replaces_the_session(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    first = browser.sign_in(browser.start(code_request(client)), email)
    old = set_cookies(first)["authgate_session"].split(";")[0].split("=", 1)[1]
    browser.sign_in(browser.start(code_request(client, prompt="login")), email)
    assert browser.cookie("authgate_session") != old
    with Browser(server) as thief:
        params = code_request(client, prompt="none")
        cookie = {"Cookie": f"authgate_session={old}"}
        response = thief.http.get("/oauth2/authorize", params=params, headers=cookie)
    assert answer_of(response.headers["location"])["error"] == "login_required"


# -- consent -------------------------------------------------------------------------------------


def test_the_consent_page_describes_each_scope(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    response = consent_page(browser, client, email, scope="openid email orders:read")
    assert response.status_code == 200
    page = Page(response.text)
    assert len(page.all("h1")) == 1
    assert "Read your orders" in page.text
    assert "See your email address" in page.text
    assert email in response.text
    buttons = {b["value"]: b["name"] for b in page.form.buttons}
    assert buttons == {"allow": "decision", "deny": "decision"}
    assert not any(i.get("type") == "password" for i in page.form.inputs)


def test_the_consent_page_without_a_session_sends_to_sign_in(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    consent = consent_page(browser, client, email)
    with Browser(server) as stranger:
        response = stranger.http.get(str(consent.url))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login?")


def test_a_consent_page_shown_to_someone_else_is_asked_again(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    shown = consent_page(browser, client, email)
    other = unique_email("other")
    create_user(server, other)
    browser.sign_in(browser.start(code_request(client, prompt="login")), other)
    response = browser.submit(shown, decision="allow")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/consent?")


def test_an_unknown_decision_is_refused(
    browser: Browser, client: dict[str, Any], email: str
) -> None:
    page = consent_page(browser, client, email)
    response = browser.submit(page, decision="maybe")
    assert response.status_code == 400
    assert "location" not in response.headers


def access_token(server: AuthgateServer, email: str) -> dict[str, str]:
    with server.public_client() as http:
        tokens = http.post("/v1/login", json={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def test_consents_are_listed_and_can_be_taken_back(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    params = code_request(client)
    browser.to_client(params, email)
    bearer = access_token(server, email)
    with server.public_client() as http:
        listed = http.get("/v1/me/consents", headers=bearer)
        assert listed.status_code == 200
        assert listed.headers["cache-control"] == "no-store"
        (item,) = listed.json()["items"]
        assert isinstance(item.pop("granted_at"), int)
        assert item == {
            "client_id": client["client_id"],
            "client_name": "Shop",
            "scope": "openid email",
        }
        revoked = http.delete(f"/v1/me/consents/{client['client_id']}", headers=bearer)
        assert revoked.status_code == 204
        assert http.get("/v1/me/consents", headers=bearer).json()["items"] == []
    again = browser.authorize(code_request(client))
    assert again.headers["location"].startswith("/auth/consent?")


def test_consents_add_up_per_client(
    server: AuthgateServer, browser: Browser, client: dict[str, Any], email: str
) -> None:
    browser.to_client(code_request(client, scope="openid email"), email)
    browser.to_client(code_request(client, scope="openid profile"), email)
    with server.public_client() as http:
        items = http.get("/v1/me/consents", headers=access_token(server, email)).json()["items"]
    assert items[0]["scope"] == "openid email profile"


def test_taking_back_a_consent_never_given_is_not_found(server: AuthgateServer, email: str) -> None:
    with server.public_client() as http:
        response = http.delete("/v1/me/consents/nobody", headers=access_token(server, email))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_consents_need_a_bearer_token(server: AuthgateServer, method: str) -> None:
    path = "/v1/me/consents" if method == "GET" else "/v1/me/consents/x"
    with server.public_client() as http:
        response = http.request(method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
