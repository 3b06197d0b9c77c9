"""kill -9 in the middle of a sign-up and login storm (issue 12's fault): the database holds
no half-written account and no refresh family without its first token, and the process,
started again on the same database, serves at once.

Worker threads sign up, confirm, sign in and refresh, each user its own small story, until
enough of them have got that far; then the process gets SIGKILL with requests in flight.
The database is then read directly, not through authgate.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import PASSWORD

WORKERS = 6
KILL_AFTER = 8
"""Completed stories (sign-up to refresh) before the kill: the storm is then in full swing."""
STORM_DEADLINE = 120.0
"""The storm's bound in time; it ends with the kill long before on any working machine."""

HALF_WRITTEN = {
    "an unconfirmed user without a sign-up code": """
        SELECT count(*) FROM users u WHERE u.status = 'unconfirmed' AND NOT EXISTS (
            SELECT 1 FROM one_time_codes c WHERE c.sub = u.sub AND c.purpose = 'signup')""",
    "a code without its user": """
        SELECT count(*) FROM one_time_codes c
        WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.sub = c.sub)""",
    "a refresh family without its first token": """
        SELECT count(*) FROM refresh_families f
        WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.family_id)""",
    "a refresh token without its family": """
        SELECT count(*) FROM refresh_tokens t
        WHERE NOT EXISTS (SELECT 1 FROM refresh_families f WHERE f.family_id = t.family_id)""",
}
COUNT_USERS = "SELECT count(*) FROM users"


@dataclass
class Storm:
    server: AuthgateServer
    stop: threading.Event = field(default_factory=threading.Event)
    completed: list[str] = field(default_factory=list)
    """Addresses of users who got through sign-up, confirmation, sign-in and a refresh."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def story(self, http: httpx.Client) -> None:
        address = unique_email("storm")
        signup = http.post("/v1/signup", json={"email": address, "password": PASSWORD})
        assert signup.status_code == 201, signup.text
        code = self.server.wait_for_mail(address, timeout=30).code
        confirm = http.post("/v1/signup/confirm", json={"username": address, "code": code})
        assert confirm.status_code == 200, confirm.text
        login = http.post("/v1/login", json={"username": address, "password": PASSWORD})
        assert login.status_code == 200, login.text
        refresh = http.post(
            "/v1/token/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        assert refresh.status_code == 200, refresh.text
        with self.lock:
            self.completed.append(address)

    def worker(self) -> None:
        deadline = time.monotonic() + STORM_DEADLINE
        with self.server.public_client() as http:
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    self.story(http)
                except (httpx.TransportError, AssertionError):
                    if self.stop.is_set():
                        return  # the process is gone: this request was in flight
                    raise

    def done(self) -> int:
        with self.lock:
            return len(self.completed)


def _until(condition: Callable[[], bool], deadline: float) -> bool:
    until = time.monotonic() + deadline
    while not condition() and time.monotonic() < until:
        time.sleep(0.05)
    return condition()


def _kill_mid_storm(server: AuthgateServer) -> Storm:
    storm = Storm(server)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            storm.worker()
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    assert _until(lambda: storm.done() >= KILL_AFTER or bool(failures), STORM_DEADLINE)
    assert not failures, failures
    assert server.process is not None
    storm.stop.set()
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=15)
    for thread in threads:
        thread.join(timeout=60)
    return storm


def _counts(database_url: str, queries: list[str]) -> list[int]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as db:
            return [int(db.execute(q).fetchone()[0]) for q in queries]

    async def ask() -> list[int]:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return [int(await conn.fetchval(q)) for q in queries]
        finally:
            await conn.close()

    return asyncio.run(ask())


def test_kill_9_mid_storm_leaves_no_half_written_account_and_restarts_at_once(
    make_server: ServerFactory,
) -> None:
    server = make_server()
    storm = _kill_mid_storm(server)

    found = dict(zip(HALF_WRITTEN, _counts(server.database_url, list(HALF_WRITTEN.values()))))
    assert found == dict.fromkeys(HALF_WRITTEN, 0)
    assert _counts(server.database_url, [COUNT_USERS])[0] >= len(storm.completed)

    server.start()
    with server.public_client() as http:
        first = http.post("/v1/login", json={"username": storm.completed[0], "password": PASSWORD})
    assert first.status_code == 200, first.text
