"""`/v1/me/sessions`: a user's browser sessions, listed and ended over the API."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from tests.integration.browser import Browser, code_request, create_client
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import PASSWORD, person


def signed_in_browser(
    server: AuthgateServer, email: str, user_agent: str = "TestBrowser/1.0"
) -> Browser:
    """A browser holding a hosted-page session of `email`, sent with `user_agent`."""
    browser = Browser(server)
    browser.http.headers["User-Agent"] = user_agent
    back = browser.to_client(code_request(create_client(server)), email)
    assert "code=" in back.headers["location"], back.headers["location"]
    return browser


def still_signed_in(browser: Browser) -> bool:
    """True when an authorization request goes on without asking for a password."""
    answer = browser.authorize(code_request(create_client(server=browser.server)))
    return not answer.headers["location"].startswith("/auth/login?")


def bearer(server: AuthgateServer, email: str) -> dict[str, str]:
    with server.public_client() as http:
        login = http.post("/v1/login", json={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def sessions_of(server: AuthgateServer, email: str) -> list[dict[str, Any]]:
    with server.public_client() as http:
        listed = http.get("/v1/me/sessions", headers=bearer(server, email))
    assert listed.status_code == 200, listed.text
    assert listed.headers["cache-control"] == "no-store"
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def end(server: AuthgateServer, email: str, session_id: str) -> httpx.Response:
    with server.public_client() as http:
        return http.delete(f"/v1/me/sessions/{session_id}", headers=bearer(server, email))


def test_sessions_list_each_sign_in_with_device_address_and_times(
    server: AuthgateServer,
) -> None:
    email, _ = person(server)
    with signed_in_browser(server, email, "Firefox/1"), signed_in_browser(server, email, "Edge/2"):
        items = sessions_of(server, email)
    assert sorted(i["user_agent"] for i in items) == ["Edge/2", "Firefox/1"]
    for item in items:
        assert item["ip"] == "127.0.0.1"
        assert item["last_used_at"] >= item["created_at"] > 0
        assert item["current"] is False


def test_a_session_is_named_by_neither_its_cookie_nor_its_hash(server: AuthgateServer) -> None:
    email, _ = person(server)
    with signed_in_browser(server, email) as browser:
        cookie = browser.cookie("authgate_session")
        (item,) = sessions_of(server, email)
    assert cookie is not None
    assert item["id"] not in (cookie, hashlib.sha256(cookie.encode()).hexdigest())


def test_a_long_user_agent_is_kept_to_256_characters(server: AuthgateServer) -> None:
    email, _ = person(server)
    with signed_in_browser(server, email, "A" * 1000):
        (item,) = sessions_of(server, email)
    assert item["user_agent"] == "A" * 256


def test_ending_a_session_signs_that_browser_out_and_leaves_the_others(
    server: AuthgateServer,
) -> None:
    email, _ = person(server)
    with (
        signed_in_browser(server, email, "Gone/1") as gone,
        signed_in_browser(server, email, "Kept/1") as kept,
    ):
        (target,) = [i for i in sessions_of(server, email) if i["user_agent"] == "Gone/1"]
        assert end(server, email, target["id"]).status_code == 204
        assert not still_signed_in(gone)
        assert still_signed_in(kept)
        assert [i["user_agent"] for i in sessions_of(server, email)] == ["Kept/1"]


def test_another_users_session_is_not_found_and_stays_alive(server: AuthgateServer) -> None:
    owner, _ = person(server)
    intruder, _ = person(server)
    with signed_in_browser(server, owner) as browser:
        (target,) = sessions_of(server, owner)
        refused = end(server, intruder, target["id"])
        assert refused.status_code == 404
        assert refused.json()["error"] == "not_found"
        assert still_signed_in(browser)


def test_an_unknown_session_id_is_not_found(server: AuthgateServer) -> None:
    email, _ = person(server)
    refused = end(server, email, "no-such-session")
    assert refused.status_code == 404
    assert refused.json()["error"] == "not_found"


def test_an_ended_session_cannot_be_ended_again(server: AuthgateServer) -> None:
    email, _ = person(server)
    with signed_in_browser(server, email):
        (target,) = sessions_of(server, email)
    assert end(server, email, target["id"]).status_code == 204
    assert end(server, email, target["id"]).status_code == 404


def test_sessions_need_a_bearer_token(server: AuthgateServer) -> None:
    with server.public_client() as http:
        assert http.get("/v1/me/sessions").status_code == 401
        assert http.delete("/v1/me/sessions/x").status_code == 401


def test_changing_the_password_over_the_api_ends_every_browser_session(
    server: AuthgateServer,
) -> None:
    email, _ = person(server)
    with signed_in_browser(server, email) as browser:
        with server.public_client() as http:
            changed = http.post(
                "/v1/me/password",
                json={"current_password": PASSWORD, "new_password": "another 7 harbour tree"},
                headers=bearer(server, email),
            )
        assert changed.status_code == 200, changed.text
        assert not still_signed_in(browser)
