"""A person in a real headless Chromium signs in through the hosted pages.

The browser does what no scripted HTTP client checks: it renders the page under its
Content-Security-Policy, finds the fields by their labels, keeps the cookies by their
attributes and follows the redirects itself, all the way to the client's callback.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.support import assert_accessible, by_label, screenshot
from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"


class _Callback(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"signed in")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def callback() -> Iterator[tuple[str, list[str]]]:
    """A client's redirect_uri that really answers, on loopback."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    httpd.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/callback", httpd.hits  # type: ignore[attr-defined]
    httpd.shutdown()


def _client(server: AuthgateServer, redirect_uri: str, first_party: bool) -> str:
    with server.admin_client() as admin:
        answer = admin.post(
            "/admin/clients",
            json={
                "client_name": "Browser app",
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [redirect_uri],
                "scope": "openid profile email",
                "token_endpoint_auth_method": "none",
                "first_party": first_party,
            },
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["client_id"])


def _user(server: AuthgateServer) -> str:
    email = unique_email("browser")
    with server.admin_client() as admin:
        answer = admin.post("/admin/users", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return email


def _authorize_url(server: AuthgateServer, client_id: str, redirect_uri: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid email",
            "state": "st-" + secrets.token_hex(4),
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
    )
    return f"{server.public}/oauth2/authorize?{query}", verifier


def _sign_in(driver: WebDriver, url: str, username: str, password: str) -> None:
    """Open the authorization URL in a fresh browser and submit the sign-in form."""
    driver.delete_all_cookies()
    driver.get(url)
    by_label(driver, "Email or username").send_keys(username)
    by_label(driver, "Password").send_keys(password)
    driver.find_element(By.XPATH, "//button[@type='submit']").click()


def _arrived(driver: WebDriver, prefix: str) -> None:
    WebDriverWait(driver, 20).until(lambda d: d.current_url.startswith(prefix))


def test_a_person_signs_in_consents_and_the_app_gets_a_working_code(
    server: AuthgateServer, browser: WebDriver, callback: tuple[str, list[str]]
) -> None:
    redirect_uri, hits = callback
    client_id = _client(server, redirect_uri, first_party=False)
    email = _user(server)
    url, verifier = _authorize_url(server, client_id, redirect_uri)
    browser.delete_all_cookies()
    browser.get(url)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    _sign_in(browser, url, email, PASSWORD)
    allow = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.XPATH, "//button[normalize-space()='Allow']")
    )
    assert "Browser app" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "consent")
    assert_accessible(browser)
    allow.click()
    _arrived(browser, redirect_uri)
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query["iss"] == [server.public]
    assert hits, "the callback was reached by the browser"
    with httpx.Client(base_url=server.public) as http:
        token = http.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    assert token.status_code == 200, token.text
    assert "id_token" in token.json()


def test_the_session_cookie_is_http_only_and_same_site_lax(
    server: AuthgateServer, browser: WebDriver, callback: tuple[str, list[str]]
) -> None:
    redirect_uri, _ = callback
    client_id = _client(server, redirect_uri, first_party=True)
    email = _user(server)
    url, _ = _authorize_url(server, client_id, redirect_uri)
    _sign_in(browser, url, email, PASSWORD)
    _arrived(browser, redirect_uri)
    browser.get(f"{server.public}/healthz")
    session = browser.get_cookie("authgate_session")
    assert session is not None
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert browser.execute_script("return document.cookie").find("authgate_session") == -1


def test_a_wrong_password_shows_an_error_next_to_the_form(
    server: AuthgateServer, browser: WebDriver, callback: tuple[str, list[str]]
) -> None:
    redirect_uri, _ = callback
    client_id = _client(server, redirect_uri, first_party=True)
    email = _user(server)
    url, _ = _authorize_url(server, client_id, redirect_uri)
    _sign_in(browser, url, email, "not the password 9")
    alert = WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]")
    )
    assert alert.text
    assert not browser.current_url.startswith(redirect_uri)
