"""authgate's own cookies never reach an upstream: the hosted pages' session (a single
sign-on login, replayable at /oauth2/authorize) and the CSRF cookie are taken out of what
the gate forwards, proxied or as a WebSocket, and out of the Cookie header forward-auth
answers for the proxy in front; the client's other cookies pass as sent. Nor can an
upstream set them in the browser through the gate.

A real browser session (signed in at the hosted pages), a real gate, and a real upstream
process that answers with the headers it received.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPConnection
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.interop_signin import drive
from tests.integration.oauth_support import PASSWORD, REDIRECT_URI, person, web_app
from tests.integration.proxy_support import PROXY, arrived, route
from tests.integration.upstream_app import Upstream

OTHERS = "theme=dark; lang=en-GB"


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    gateway = {
        "trusted_proxies": [f"{PROXY}/32"],
        "upstreams": {"main": {"targets": [upstream.url]}},
        "routes": [
            route("open", "/open/**", "main", strip_prefix="/open"),
            {**route("session", "/session/**", "main"), "authenticate": ["cookie"]},
        ],
    }
    return make_server(gateway=gateway)


@pytest.fixture(scope="module")
def browser_cookies(gate: AuthgateServer) -> dict[str, str]:
    """Every cookie the hosted pages set in a browser that signed in, by name."""
    email, _ = person(gate)
    client = web_app(gate)
    url = (
        f"{gate.public}/oauth2/authorize?response_type=code&client_id={client['client_id']}"
        f"&redirect_uri={REDIRECT_URI}&scope=openid&state=s&code_challenge="
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    )
    with httpx.Client(timeout=30) as browser:
        drive(browser, url, REDIRECT_URI, email, PASSWORD)
        cookies = {cookie.name: str(cookie.value) for cookie in browser.cookies.jar}
    assert {"authgate_session", "authgate_csrf"} <= cookies.keys()
    return cookies


@pytest.fixture(scope="module")
def own(browser_cookies: dict[str, str]) -> str:
    """The browser's authgate cookies as a Cookie header value."""
    return "; ".join(f"{name}={value}" for name, value in browser_cookies.items())


@pytest.fixture(scope="module")
def http(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client() as client:
        yield client


def cookie_seen(answer: httpx.Response) -> list[str]:
    """Every Cookie line the upstream received."""
    return [value for name, value in arrived(answer)["header_list"] if name == "cookie"]


def test_a_cookie_signed_in_request_reaches_the_upstream_without_authgate_cookies(
    http: httpx.Client, own: str
) -> None:
    answer = http.get("/session/page", headers={"Cookie": f"theme=dark; {own}; lang=en-GB"})
    assert arrived(answer)["headers"]["x-authgate-sub"]
    assert cookie_seen(answer) == [OTHERS]


def test_an_anonymous_route_forwards_no_authgate_cookie(http: httpx.Client, own: str) -> None:
    answer = http.get("/open/page", headers={"Cookie": f"{own}; theme=dark; lang=en-GB"})
    assert cookie_seen(answer) == [OTHERS]


def test_a_cookie_header_of_authgate_cookies_only_is_not_forwarded(
    http: httpx.Client, own: str
) -> None:
    assert cookie_seen(http.get("/session/page", headers={"Cookie": own})) == []
    assert cookie_seen(http.get("/open/page", headers={"Cookie": own})) == []


def test_other_cookies_pass_unchanged_when_no_authgate_cookie_is_sent(http: httpx.Client) -> None:
    cookie = 'pref="a b"; sid=opaque/value=='
    assert cookie_seen(http.get("/open/page", headers={"Cookie": cookie})) == [cookie]


@pytest.mark.parametrize(
    "spelling",
    [
        "__Host-authgate_csrf={csrf}",
        "__Secure-authgate_session={session}",
        "AUTHGATE_SESSION={session}",
        " authgate_session ={session}",
        'authgate_session="{session}"',
        "x=1, authgate_session={session}",
    ],
)
def test_authgate_cookies_in_other_spellings_are_not_forwarded(
    http: httpx.Client, browser_cookies: dict[str, str], spelling: str
) -> None:
    cookie = spelling.format(
        session=browser_cookies["authgate_session"], csrf=browser_cookies["authgate_csrf"]
    )
    answer = http.get("/open/page", headers={"Cookie": f"theme=dark; {cookie}; lang=en-GB"})
    assert cookie_seen(answer) == [OTHERS]


def test_authgate_cookies_on_several_cookie_lines_are_all_removed(
    gate: AuthgateServer, own: str
) -> None:
    connection = HTTPConnection("127.0.0.1", gate.public_port, timeout=30)
    try:
        connection.putrequest("GET", "/session/page")
        connection.putheader("Cookie", "theme=dark")
        connection.putheader("Cookie", own)
        connection.putheader("Cookie", "lang=en-GB")
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 200, body
    assert [value for name, value in body["headers"] if name == "cookie"] == [OTHERS]


def test_a_utf8_cookie_value_reaches_the_upstream_byte_for_byte(
    gate: AuthgateServer, own: str
) -> None:
    sent = "caf\u00e9=cr\u00e8me".encode().decode("latin-1")  # UTF-8 bytes on the wire
    connection = HTTPConnection("127.0.0.1", gate.public_port, timeout=30)
    try:
        connection.putrequest("GET", "/open/page")
        connection.putheader("Cookie", f"{sent}; {own}")
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 200, body
    assert [value for name, value in body["headers"] if name == "cookie"] == [sent]


def test_a_websocket_upgrade_forwards_no_authgate_cookie(gate: AuthgateServer, own: str) -> None:
    headers = {"Cookie": f"theme=dark; {own}; lang=en-GB"}
    url = f"ws://127.0.0.1:{gate.public_port}/session/socket"
    with connect(url, open_timeout=10, additional_headers=headers) as socket:
        seen: dict[str, Any] = json.loads(socket.recv(timeout=10))
    assert [value for name, value in seen["headers"] if name == "cookie"] == [OTHERS]


def test_an_upstream_cannot_set_authgate_cookies_in_the_browser(http: httpx.Client) -> None:
    answer = http.get("/open/set-cookie")
    assert answer.status_code == 200, answer.text
    assert answer.headers.get_list("set-cookie") == ["theme=dark; Path=/"]


# -- forward-auth: the Cookie header the proxy sends on ------------------------------


@pytest.fixture(scope="module")
def proxy(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client(local_address=PROXY) as client:
        yield client


def ask(proxy: httpx.Client, uri: str, cookie: str) -> httpx.Response:
    headers = {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": uri, "Cookie": cookie}
    answer = proxy.get("/_authgate/forward", headers={"X-Forwarded-Proto": "https", **headers})
    assert answer.status_code == 200, answer.text
    return answer


def test_forward_auth_answers_the_cookie_header_without_authgate_cookies(
    proxy: httpx.Client, own: str
) -> None:
    answer = ask(proxy, "/session/page", f"theme=dark; {own}; lang=en-GB")
    assert answer.headers["x-authgate-sub"]
    assert answer.headers.get_list("cookie") == [OTHERS]


def test_forward_auth_answers_no_cookie_header_when_only_authgate_cookies_were_sent(
    proxy: httpx.Client, own: str
) -> None:
    assert "cookie" not in ask(proxy, "/session/page", own).headers
    assert "cookie" not in ask(proxy, "/open/page", own).headers
