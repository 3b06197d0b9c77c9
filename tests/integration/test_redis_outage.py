"""Redis down and back (issue 12's fault): rate limits admit with no 5xx and one warning,
revocations still arrive by database polling, and notices resume when Redis returns.

The replicas use a Redis of this module's own, on a free port, so stopping it disturbs
no other test. Revocations are polled every second here (the fallback under test);
policies every hour, so only a notice can bring one.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.integration.cluster_support import (
    admin_on,
    cluster_settings,
    eventually,
    forward,
    some_address,
    start_replicas,
)
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import client_token, machine, post_form
from tests.redis_support import missing

UNREACHABLE = "Redis is unreachable"
BACK = "Redis is back"


class OwnRedis:
    """A redis-server this module starts and stops, keeping no data on disk."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server is not installed (make test installs it)")
        command = [str(binary), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self._workdir)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        assert eventually(lambda: _pings(client), bool), "redis-server did not start"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=15)
            self._process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(
    own_redis: OwnRedis, make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[AuthgateServer]]:
    settings = cluster_settings(
        own_redis.url, "authgate:", oauth={"revocation_sync_interval": "1s"}
    )
    servers = start_replicas(make_server, tmp_path_factory, 2, settings)
    yield servers
    servers[1].stop()


@pytest.fixture
def redis_down(own_redis: OwnRedis) -> Iterator[None]:
    own_redis.stop()
    yield
    own_redis.start()


def lines_saying(server: AuthgateServer, words: str) -> int:
    return sum(words in str(r.get("message", "")) for r in server.log_records())


def test_rate_limits_admit_without_5xx_while_redis_is_down(
    replicas: list[AuthgateServer], redis_down: None
) -> None:
    first, second = replicas
    address = some_address()
    answers = [
        forward(replicas[n % 2], "/limited/1", **{"X-Forwarded-For": address}) for n in range(30)
    ]
    assert answers == [200] * 30
    # One line per outage, however many requests it refused to count: each earlier
    # outage ended with a line saying Redis is back.
    assert lines_saying(first, UNREACHABLE) == lines_saying(first, BACK) + 1


def metric(server: AuthgateServer, name: str) -> float:
    text = httpx.get(f"{server.admin}/metrics", timeout=10).text
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(f"{name} ")]
    assert values, f"{name} is not exposed"
    return float(values[0])


def test_an_outage_shows_in_the_metrics(replicas: list[AuthgateServer], redis_down: None) -> None:
    first = replicas[0]
    before = metric(first, "authgate_redis_failures_total")
    assert forward(first, "/limited/1", **{"X-Forwarded-For": some_address()}) == 200
    assert metric(first, "authgate_redis_up") == 0
    assert metric(first, "authgate_redis_failures_total") > before


def test_a_revocation_arrives_by_polling_while_redis_is_down(
    replicas: list[AuthgateServer], redis_down: None
) -> None:
    first, second = replicas
    client = machine(first)
    token = str(client_token(first, client, scope="orders:read")["access_token"])
    assert forward(second, "/orders/1", token) == 200
    assert post_form(first, "/oauth2/revoke", client, token=token).status_code == 200
    assert eventually(lambda: forward(second, "/orders/1", token), lambda a: a == 401) == 401


def decide(server: AuthgateServer, token: str, subject: str) -> bool:
    body = {"subject": subject, "action": "read", "resource": "doc:1"}
    with server.public_client() as client:
        answer = client.post(
            "/authz/allowed", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 200, answer.text
    allowed: bool = answer.json()["allowed"]
    return allowed


def test_notices_resume_when_redis_is_back(
    replicas: list[AuthgateServer], own_redis: OwnRedis
) -> None:
    first, second = replicas
    own_redis.stop()
    own_redis.start()
    token, subject = first.admin_token, f"user:{secrets.token_hex(4)}"
    policy: dict[str, Any] = {
        "id": f"p-{secrets.token_hex(4)}",
        "subjects": [subject],
        "actions": ["read"],
        "resources": ["doc:1"],
        "effect": "allow",
    }

    # A notice sent before the replica resubscribed is lost (polling is its fallback):
    # post until one arrives, each time a policy of its own.
    def added_and_seen() -> bool:
        policy["id"] = f"p-{secrets.token_hex(4)}"
        with admin_on(second, token) as admin:
            assert admin.post("/admin/policies", json=policy).status_code == 201
        return eventually(lambda: decide(first, token, subject), bool, deadline=2.0)

    assert eventually(added_and_seen, bool, deadline=30.0)
