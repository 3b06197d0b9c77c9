"""GET|POST /oauth2/logout (OpenID Connect RP-Initiated Logout 1.0) as a browser sees it:
the session ends, and only an exactly registered post_logout_redirect_uri of the client
named by a genuine id_token_hint is ever redirected to."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest

from tests.integration.browser import (
    LOGOUT_URI,
    PASSWORD,
    Browser,
    Page,
    answer_of,
    claims_of,
    code_request,
    create_client,
    create_user,
)
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    # No leeway, so an ID token with a zero lifetime is expired the moment it is issued.
    return make_server(tokens={"leeway": 0}, throttle={"login_failures": 1000})


def logout_client(server: AuthgateServer, **metadata: Any) -> dict[str, Any]:
    """A first-party client that may also sign in with a password (to get ID tokens)."""
    fields = {
        "grant_types": ["authorization_code", "refresh_token", "password"],
        "post_logout_redirect_uris": [LOGOUT_URI],
        "first_party": True,
        **metadata,
    }
    return create_client(server, **fields)


@pytest.fixture
def client(server: AuthgateServer) -> dict[str, Any]:
    return logout_client(server)


@pytest.fixture
def email(server: AuthgateServer) -> str:
    address = unique_email("person")
    create_user(server, address)
    return address


def id_token(server: AuthgateServer, email: str, client: dict[str, Any]) -> str:
    with server.public_client() as http:
        body = {"username": email, "password": PASSWORD, "client_id": client["client_id"]}
        tokens = http.post("/v1/login", json=body)
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["id_token"])


def signed_in(server: AuthgateServer, client: dict[str, Any], email: str) -> Browser:
    browser = Browser(server)
    response = browser.to_client(code_request(client), email)
    assert "code" in answer_of(response.headers["location"])
    assert browser.cookie("authgate_session")
    return browser


def session_is_alive(browser: Browser, client: dict[str, Any]) -> bool:
    response = browser.authorize(code_request(client, prompt="none"))
    return "code" in answer_of(response.headers["location"])


def logout(browser: Browser, **params: str) -> httpx.Response:
    return browser.http.get("/oauth2/logout", params=params)


def assert_signed_out_page(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    assert "You are signed out" in response.text
    assert response.headers["x-frame-options"] == "DENY"
    cookie = [c for c in response.headers.get_list("set-cookie") if "authgate_session=" in c]
    assert cookie and "Max-Age=0" in cookie[0]


# -- with a valid hint -------------------------------------------------------------------------


def test_a_valid_hint_and_registered_uri_redirect_with_state(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in(server, client, email) as browser:
        hint = id_token(server, email, client)
        state = "s t&a=te"
        response = logout(
            browser, id_token_hint=hint, post_logout_redirect_uri=LOGOUT_URI, state=state
        )
        assert response.status_code == 303
        assert response.headers["location"].startswith(LOGOUT_URI + "?")
        assert answer_of(response.headers["location"]) == {"state": state}
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert not session_is_alive(browser, client)


def test_the_redirect_keeps_a_registered_query(server: AuthgateServer, email: str) -> None:
    registered = "https://app.example/bye?lang=en"
    client = logout_client(server, post_logout_redirect_uris=[registered])
    with signed_in(server, client, email) as browser:
        hint = id_token(server, email, client)
        response = logout(
            browser, id_token_hint=hint, post_logout_redirect_uri=registered, state="x"
        )
    assert response.headers["location"] == registered + "&state=x"


def test_a_valid_hint_without_a_uri_shows_the_signed_out_page(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in(server, client, email) as browser:
        response = logout(browser, id_token_hint=id_token(server, email, client))
        assert_signed_out_page(response)
        assert not session_is_alive(browser, client)


def test_an_expired_id_token_is_still_a_valid_hint(server: AuthgateServer, email: str) -> None:
    client = logout_client(server, id_token_ttl=0.001)
    with signed_in(server, client, email) as browser:
        hint = id_token(server, email, client)
        assert claims_of(hint)["exp"] <= time.time()
        response = logout(browser, id_token_hint=hint, post_logout_redirect_uri=LOGOUT_URI)
    assert response.status_code == 303
    assert response.headers["location"] == LOGOUT_URI


def test_logout_also_takes_a_post(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in(server, client, email) as browser:
        body = {
            "id_token_hint": id_token(server, email, client),
            "post_logout_redirect_uri": LOGOUT_URI,
            "state": "abc",
        }
        response = browser.http.post("/oauth2/logout", data=body)
        assert response.status_code == 303
        assert response.headers["location"] == LOGOUT_URI + "?state=abc"
        assert not session_is_alive(browser, client)


def test_a_matching_client_id_is_accepted(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in(server, client, email) as browser:
        response = logout(
            browser,
            id_token_hint=id_token(server, email, client),
            post_logout_redirect_uri=LOGOUT_URI,
            client_id=client["client_id"],
        )
    assert response.headers["location"] == LOGOUT_URI


def test_a_hint_for_another_user_asks_before_ending_the_session(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    """Any site can hold an ID token of its own user; it says nothing about this browser."""
    stranger = unique_email("stranger")
    create_user(server, stranger)
    with signed_in(server, client, email) as browser:
        hint = id_token(server, stranger, client)
        asked = logout(browser, id_token_hint=hint, post_logout_redirect_uri=LOGOUT_URI, state="s")
        assert asked.status_code == 200
        assert "location" not in asked.headers
        assert set(Page(asked.text).form.fields) == {"csrf_token"}
        assert "Max-Age=0" not in asked.headers.get("set-cookie", "")
        assert session_is_alive(browser, client)
        assert_signed_out_page(browser.submit(asked))
        assert not session_is_alive(browser, client)


def test_a_hint_for_another_user_asks_on_a_post_too(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    stranger = unique_email("stranger")
    create_user(server, stranger)
    with signed_in(server, client, email) as browser:
        body = {
            "id_token_hint": id_token(server, stranger, client),
            "client_id": client["client_id"],
        }
        asked = browser.http.post("/oauth2/logout", data=body)
        assert asked.status_code == 200
        assert "location" not in asked.headers
        assert session_is_alive(browser, client)


def test_without_a_session_a_valid_hint_still_redirects(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with Browser(server) as browser:
        hint = id_token(server, email, client)
        response = logout(browser, id_token_hint=hint, post_logout_redirect_uri=LOGOUT_URI)
    assert response.status_code == 303
    assert response.headers["location"] == LOGOUT_URI


# -- never an open redirect ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "https://app.example.evil/signed-out",
        "https://app.example@evil.example/signed-out",
        LOGOUT_URI + "/",
        LOGOUT_URI.upper(),
        "https://APP.example/signed-out",
        "https://app.example/Signed-Out",
        LOGOUT_URI + "?next=https://evil.example",
        LOGOUT_URI + "#evil",
        LOGOUT_URI + "/../../evil",
        "https://app.example/signed-out%2F..%2Fevil",
        "https://app.example:443/signed-out",
        "http://app.example/signed-out",
        " " + LOGOUT_URI,
        LOGOUT_URI + "\t",
        LOGOUT_URI + "\r\n",
        "https://app.example/signed%2Dout",
        "https://app.example/signed-ou",
    ],
)
def test_only_an_exactly_registered_uri_is_redirected_to(
    server: AuthgateServer, client: dict[str, Any], email: str, uri: str
) -> None:
    with signed_in(server, client, email) as browser:
        hint = id_token(server, email, client)
        response = logout(browser, id_token_hint=hint, post_logout_redirect_uri=uri, state="s")
    assert_signed_out_page(response)


def test_a_uri_registered_for_another_client_is_not_redirected_to(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    other = logout_client(server, post_logout_redirect_uris=["https://other.example/bye"])
    with signed_in(server, client, email) as browser:
        hint = id_token(server, email, client)
        response = logout(
            browser, id_token_hint=hint, post_logout_redirect_uri="https://other.example/bye"
        )
    assert_signed_out_page(response)
    assert other["client_id"] != client["client_id"]


def test_a_client_id_other_than_the_hints_is_not_redirected_for(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    other = logout_client(server)
    with signed_in(server, client, email) as browser:
        response = logout(
            browser,
            id_token_hint=id_token(server, email, client),
            post_logout_redirect_uri=LOGOUT_URI,
            client_id=other["client_id"],
        )
        assert response.status_code == 200
        assert "location" not in response.headers
        assert session_is_alive(browser, client)


def forged(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = {**claims_of(token), **changes}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def unsigned(token: str) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{token.split('.')[1]}."


@pytest.mark.parametrize("kind", ["garbage", "tampered", "alg none", "access token"])
def test_a_hint_that_is_not_our_id_token_redirects_nowhere(
    server: AuthgateServer, client: dict[str, Any], email: str, kind: str
) -> None:
    genuine = id_token(server, email, client)
    with server.public_client() as http:
        body = {"username": email, "password": PASSWORD, "client_id": client["client_id"]}
        access = http.post("/v1/login", json=body).json()["access_token"]
    hint = {
        "garbage": "not-a-token",
        "tampered": forged(genuine, aud="someone-else"),
        "alg none": unsigned(genuine),
        "access token": access,
    }[kind]
    with signed_in(server, client, email) as browser:
        response = logout(browser, id_token_hint=hint, post_logout_redirect_uri=LOGOUT_URI)
        assert response.status_code == 200
        assert "location" not in response.headers
        assert session_is_alive(browser, client)


# -- without a hint: ask, never redirect ---------------------------------------------------------


def test_without_a_hint_the_user_is_asked_to_confirm(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in(server, client, email) as browser:
        asked = logout(browser, post_logout_redirect_uri=LOGOUT_URI, state="s")
        assert asked.status_code == 200
        assert "location" not in asked.headers
        assert asked.headers["content-security-policy"].startswith("default-src 'none'")
        assert session_is_alive(browser, client)
        page = Page(asked.text)
        assert len(page.all("h1")) == 1
        assert set(page.form.fields) == {"csrf_token"}
        confirmed = browser.submit(asked)
        assert_signed_out_page(confirmed)
        assert not session_is_alive(browser, client)


def test_confirming_without_the_csrf_token_is_forbidden(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in(server, client, email) as browser:
        asked = logout(browser)
        response = browser.submit(asked, csrf_token="B" * 43)
        assert response.status_code == 403
        assert session_is_alive(browser, client)


def test_without_a_session_or_hint_the_signed_out_page_shows(
    server: AuthgateServer, client: dict[str, Any]
) -> None:
    with Browser(server) as browser:
        response = logout(browser, post_logout_redirect_uri=LOGOUT_URI, state="s")
    assert_signed_out_page(response)


def test_a_repeated_parameter_redirects_nowhere(
    server: AuthgateServer, client: dict[str, Any], email: str
) -> None:
    with signed_in(server, client, email) as browser:
        query = httpx.QueryParams(
            {
                "id_token_hint": id_token(server, email, client),
                "post_logout_redirect_uri": LOGOUT_URI,
            }
        ).add("post_logout_redirect_uri", "https://evil.example/")
        response = browser.http.get("/oauth2/logout", params=query)
    assert response.status_code == 200
    assert "location" not in response.headers
