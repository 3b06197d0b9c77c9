"""The second-factor page over HTTP: the OAuth sign-in with a TOTP or recovery code, the
enrolment a pool that requires MFA asks for, and the amr the resulting tokens carry."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.browser import Browser, Page, answer_of, create_client, pkce_pair
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import code, enrolled, steady
from tests.integration.oauth_support import jose_parts


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(throttle={"login_failures": 1000})


@pytest.fixture(scope="module")
def required(make_server: ServerFactory) -> AuthgateServer:
    return make_server(user_pool={"mfa": "required"}, throttle={"login_failures": 1000})


@pytest.fixture
def browser(server: AuthgateServer) -> Iterator[Browser]:
    with Browser(server) as browser:
        yield browser


def _request(client: dict[str, Any]) -> tuple[dict[str, str], str]:
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uris"][0],
        "scope": "openid email",
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return params, verifier


def _mfa_page(browser: Browser, params: dict[str, str], email: str) -> httpx.Response:
    signin = browser.start(params)
    to_mfa = browser.sign_in(signin, email)
    assert to_mfa.status_code == 303, to_mfa.text
    assert to_mfa.headers["location"].startswith("/auth/login/mfa?ticket=")
    assert browser.cookie("authgate_session") is None
    page = browser.follow(to_mfa)
    assert page.status_code == 200, page.text
    return page


def _tokens(server: AuthgateServer, client: dict[str, Any], location: str, verifier: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "code": answer_of(location)["code"],
        "redirect_uri": client["redirect_uris"][0],
        "client_id": client["client_id"],
        "code_verifier": verifier,
    }
    with server.public_client() as http:
        answer = http.post("/oauth2/token", data=form)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_code_flow_sign_in_asks_for_the_code_and_carries_amr_otp(
    server: AuthgateServer, browser: Browser
) -> None:
    account = enrolled(server)
    client = create_client(server, first_party=True)
    params, verifier = _request(client)
    page = _mfa_page(browser, params, account.email)
    done = browser.submit(page, code=code(account.secret, steady()))
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(client["redirect_uris"][0])
    tokens = _tokens(server, client, done.headers["location"], verifier)
    for kind in ("access_token", "id_token"):
        assert jose_parts(tokens[kind])[1]["amr"] == ["pwd", "otp"], kind


def test_a_recovery_code_on_the_page_carries_amr_mfa(
    server: AuthgateServer, browser: Browser
) -> None:
    account = enrolled(server)
    client = create_client(server, first_party=True)
    params, verifier = _request(client)
    page = _mfa_page(browser, params, account.email)
    done = browser.submit(page, code=account.recovery_codes[0])
    assert done.status_code == 303, done.text
    tokens = _tokens(server, client, done.headers["location"], verifier)
    assert jose_parts(tokens["access_token"])[1]["amr"] == ["pwd", "mfa"]


def test_a_wrong_code_is_told_next_to_the_field(server: AuthgateServer, browser: Browser) -> None:
    account = enrolled(server)
    params, _ = _request(create_client(server, first_party=True))
    page = _mfa_page(browser, params, account.email)
    again = browser.submit(page, code=code(account.secret, steady() + 7))
    assert again.status_code == 400
    assert re.search(r'id="code-error">[^<]+<', again.text)
    assert 'role="alert"' in again.text
    assert browser.cookie("authgate_session") is None


def test_the_page_without_a_challenge_asks_to_sign_in_again(browser: Browser) -> None:
    page = browser.http.get("/auth/login/mfa")
    assert page.status_code == 400
    assert 'name="code"' not in page.text


def test_a_pool_that_requires_mfa_enrols_on_the_page_and_shows_recovery_codes(
    required: AuthgateServer,
) -> None:
    client = create_client(required, first_party=True)
    params, verifier = _request(client)
    email = f"page-{secrets.token_hex(4)}@example.com"
    with required.admin_client() as admin:
        body = {"email": email, "password": "lemon tree 4 harbour", "email_verified": True}
        assert admin.post("/admin/users", json=body).status_code == 201
    with Browser(required) as browser:
        page = _mfa_page(browser, params, email)
        assert "<svg" in page.text and "<script" not in page.text
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
        assert secret, page.text
        shown = browser.submit(page, code=code(secret.group(1), steady()))
        assert shown.status_code == 200, shown.text
        assert len(re.findall(r"<li><code>[0-9a-z]{5}-[0-9a-z]{5}</code></li>", shown.text)) == 10
        assert browser.cookie("authgate_session") is not None
        onward = Page(shown.text).all("a")
        location = next(a["href"] for a in onward if a.get("id") == "continue")
    tokens = _tokens(required, client, location, verifier)
    assert jose_parts(tokens["access_token"])[1]["amr"] == ["pwd", "otp"]
