"""A person in a real headless Chromium signs in with another authgate (issue 15).

The second authgate, started here on "localhost", is the upstream OpenID Provider; the one
under test runs on 127.0.0.1. The browser renders our sign-in page under its CSP (whose
form-action must let the provider button's answer go to the provider), follows every
redirect itself, signs in at the provider, and comes back to an app's callback with a code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.support import by_label, screenshot
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.federation_support import PASSWORD, start_pair, upstream_user
from tests.integration.harness import AuthgateServer


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
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    httpd.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/callback", httpd.hits  # type: ignore[attr-defined]
    httpd.shutdown()


@pytest.fixture(scope="module")
def pair(
    make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[AuthgateServer, AuthgateServer]:
    return start_pair(make_server, tmp_path_factory.mktemp("secrets"), [])


def test_a_person_signs_in_with_the_other_authgate_and_the_app_gets_a_code(
    pair: tuple[AuthgateServer, AuthgateServer],
    driver: WebDriver,
    callback: tuple[str, list[str]],
) -> None:
    ours, upstream = pair
    redirect_uri, hits = callback
    email = unique_email("browser-fed")
    upstream_user(upstream, email=email)
    with ours.admin_client() as admin:
        client = admin.post(
            "/admin/clients",
            json={
                "client_name": "Browser app",
                "grant_types": ["authorization_code"],
                "redirect_uris": [redirect_uri],
                "scope": "openid email",
                "token_endpoint_auth_method": "none",
                "first_party": True,
            },
        ).json()
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": redirect_uri,
        "scope": "openid email",
        "state": "browser-state",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    driver.get(f"{ours.public}/oauth2/authorize?{urlencode(query)}")
    button = WebDriverWait(driver, 20).until(
        lambda d: d.find_element(
            By.XPATH, "//button[normalize-space()='Continue with Corporate account']"
        )
    )
    screenshot(driver, "federation-signin")
    button.click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url.startswith(upstream.config["issuer"]))
    by_label(driver, "Email or username").send_keys(email)
    by_label(driver, "Password").send_keys(PASSWORD)
    driver.find_element(By.XPATH, "//form[@action='/auth/login']//button[@type='submit']").click()
    # Our callback answers with a page that goes on by itself to the app (see ui/federation
    # .py `onward`): the provider page's CSP form-action would block a redirect there.
    WebDriverWait(driver, 30).until(lambda d: d.current_url.startswith(redirect_uri))
    answer = parse_qs(urlsplit(driver.current_url).query)
    assert answer["state"] == ["browser-state"] and answer["code"]
    assert answer["iss"] == [ours.public]
    assert hits
