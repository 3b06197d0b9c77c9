"""`tokens.refresh_reuse_interval`: two copies of one client refreshing with the same token
at once both get the same successor pair, instead of one of them revoking the sign-in.

Only the client the token was issued to, only with the token it just spent, only within the
interval; any other reuse revokes the whole family as before. Nothing of the kept pair is
in the database in clear."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import _asyncpg_dsn
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    PASSWORD,
    RESOURCE_SCOPES,
    assert_oauth_error,
    code_tokens,
    introspect,
    machine,
    person,
    post_form,
    token_request,
    web_app,
)


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    """The default interval (10 s)."""
    return make_server(oauth={"scopes": RESOURCE_SCOPES})


@pytest.fixture(scope="module")
def app(server: AuthgateServer) -> dict[str, Any]:
    return web_app(server)


@pytest.fixture(scope="module")
def resource(server: AuthgateServer) -> dict[str, Any]:
    return machine(server, "client_secret_post")


@pytest.fixture
def signed_in(server: AuthgateServer, app: dict[str, Any]) -> dict[str, Any]:
    email, _ = person(server)
    return code_tokens(server, app, email)


def refresh(server: AuthgateServer, client: dict[str, Any], token: str) -> httpx.Response:
    return token_request(server, client, grant_type="refresh_token", refresh_token=token)


def at_once(count: int, send: Any) -> list[httpx.Response]:
    """`count` requests released together, as two tabs of one app would send them."""
    barrier = threading.Barrier(count)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        answer = send()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == count
    return answers


PAIR = ("access_token", "refresh_token", "id_token", "scope")


def pair(answer: httpx.Response) -> tuple[str, ...]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return tuple(body[k] for k in PAIR)


# -- within the interval, the same client gets the same pair ------------------------------------


def test_repeating_a_refresh_returns_the_same_pair(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    first = refresh(server, app, signed_in["refresh_token"])
    again = refresh(server, app, signed_in["refresh_token"])
    assert pair(again) == pair(first)


def test_concurrent_refreshes_with_one_token_all_get_the_same_pair(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    token = signed_in["refresh_token"]
    for _ in range(3):
        answers = at_once(3, lambda: refresh(server, app, token))  # noqa: B023
        pairs = {pair(answer) for answer in answers}
        assert len(pairs) == 1
        token = pairs.pop()[1]


def test_the_repeated_pair_is_live(
    server: AuthgateServer,
    app: dict[str, Any],
    resource: dict[str, Any],
    signed_in: dict[str, Any],
) -> None:
    refresh(server, app, signed_in["refresh_token"])
    access, successor, *_ = pair(refresh(server, app, signed_in["refresh_token"]))
    assert introspect(server, resource, access)["active"] is True
    assert refresh(server, app, successor).status_code == 200


def test_concurrent_refreshes_at_the_pool_api_get_the_same_pair(server: AuthgateServer) -> None:
    email, _ = person(server)
    with server.public_client() as http:
        tokens = http.post("/v1/login", json={"username": email, "password": PASSWORD}).json()

    def send() -> httpx.Response:
        with server.public_client() as http:
            return http.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})

    answers = at_once(2, send)
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()


# -- and nobody else, nothing older, never later -----------------------------------------------


def test_another_client_gets_nothing_and_revokes_nothing(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    other = web_app(server)
    _, successor, *_ = pair(refresh(server, app, signed_in["refresh_token"]))
    assert_oauth_error(refresh(server, other, signed_in["refresh_token"]), 400, "invalid_grant")
    assert refresh(server, app, successor).status_code == 200


def test_a_token_older_than_the_last_one_spent_revokes_the_sign_in(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    _, second, *_ = pair(refresh(server, app, signed_in["refresh_token"]))
    _, third, *_ = pair(refresh(server, app, second))
    assert_oauth_error(refresh(server, app, signed_in["refresh_token"]), 400, "invalid_grant")
    assert_oauth_error(refresh(server, app, third), 400, "invalid_grant")


def test_the_same_token_at_the_pool_api_revokes_the_sign_in(server: AuthgateServer) -> None:
    """A repeat must come the way the first request did: the pool API names no client."""
    app = web_app(server, grant_types=["authorization_code", "refresh_token", "password"])
    email, _ = person(server)
    tokens = code_tokens(server, app, email)
    _, successor, *_ = pair(refresh(server, app, tokens["refresh_token"]))
    with server.public_client() as http:
        repeat = http.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert repeat.status_code == 401
    assert_oauth_error(refresh(server, app, successor), 400, "invalid_grant")


def test_after_the_interval_reuse_revokes_the_sign_in(make_server: ServerFactory) -> None:
    brief = make_server(tokens={"refresh_reuse_interval": "1s"})
    app = web_app(brief)
    email, _ = person(brief)
    tokens = code_tokens(brief, app, email)
    _, successor, *_ = pair(refresh(brief, app, tokens["refresh_token"]))
    time.sleep(1.5)
    assert_oauth_error(refresh(brief, app, tokens["refresh_token"]), 400, "invalid_grant")
    assert_oauth_error(refresh(brief, app, successor), 400, "invalid_grant")


def test_zero_turns_the_interval_off(make_server: ServerFactory) -> None:
    strict = make_server(tokens={"refresh_reuse_interval": 0})
    app = web_app(strict)
    email, _ = person(strict)
    tokens = code_tokens(strict, app, email)
    answers = at_once(2, lambda: refresh(strict, app, tokens["refresh_token"]))
    assert sorted(a.status_code for a in answers) == [200, 400]
    winner = next(a for a in answers if a.status_code == 200)
    assert_oauth_error(refresh(strict, app, winner.json()["refresh_token"]), 400, "invalid_grant")


def test_revoking_the_sign_in_ends_the_repeatable_pair(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    _, successor, *_ = pair(refresh(server, app, signed_in["refresh_token"]))
    assert post_form(server, "/oauth2/revoke", app, token=successor).status_code == 200
    assert_oauth_error(refresh(server, app, signed_in["refresh_token"]), 400, "invalid_grant")


def stored_rows(database_url: str, query: str) -> list[bytes]:
    """The rows `query` reads, as the bytes the database holds (repr keeps ASCII readable),
    on either backend."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split("///", 1)[1]) as db:
            return [repr(row).encode() for row in db.execute(query)]

    async def read() -> list[bytes]:
        conn = await asyncpg.connect(_asyncpg_dsn(make_url(database_url)), timeout=5)
        try:
            return [repr(tuple(row.values())).encode() for row in await conn.fetch(query)]
        finally:
            await conn.close()

    return asyncio.run(read())


def test_the_kept_pair_is_not_stored_in_clear(
    server: AuthgateServer, app: dict[str, Any], signed_in: dict[str, Any]
) -> None:
    access, successor, id_token, _ = pair(refresh(server, app, signed_in["refresh_token"]))
    kept = "SELECT successor_ciphertext FROM refresh_tokens WHERE successor_ciphertext IS NOT NULL"
    assert stored_rows(server.database_url, kept)
    rows = stored_rows(server.database_url, "SELECT * FROM refresh_tokens")
    for secret in (access, successor, id_token):
        assert not [row for row in rows if secret.encode() in row]
