"""`/healthz` says the process answers; `/readyz` whether it can serve (the database, and
Redis when configured); `/readyz?verbose` lists each check with its outcome and time.

Redis is shared by every replica and authgate works without it, so an unreachable Redis
is reported but fails readiness only where `redis.required_for_readiness` says so."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.redis_support import REDIS_URL, redis_or_skip, unique_prefix


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"  # a database that is away is the storage outage tests' business


@pytest.fixture(scope="module")
def with_redis(make_server: ServerFactory) -> AuthgateServer:
    redis_or_skip()
    return make_server(redis={"url": REDIS_URL, "key_prefix": unique_prefix("probes")})


def dead_redis(required: bool) -> dict[str, object]:
    return {
        "url": f"redis://127.0.0.1:{free_port()}/0",
        "key_prefix": unique_prefix("probes"),
        "required_for_readiness": required,
    }


@pytest.fixture(scope="module")
def redis_away(make_server: ServerFactory) -> AuthgateServer:
    return make_server(redis=dead_redis(required=False))


@pytest.fixture(scope="module")
def redis_required_and_away(make_server: ServerFactory) -> AuthgateServer:
    return make_server(redis=dead_redis(required=True))


@pytest.mark.parametrize("listener", ["public", "admin"])
def test_healthz_says_the_process_answers(server: AuthgateServer, listener: str) -> None:
    with server.public_client() if listener == "public" else server.admin_client() as http:
        answer = http.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_without_redis_checks_the_database(server: AuthgateServer) -> None:
    with server.public_client() as http:
        plain = http.get("/readyz")
        verbose = http.get("/readyz", params={"verbose": ""})
    assert (plain.status_code, plain.json()) == (200, {"status": "ready"})
    assert verbose.status_code == 200
    body = verbose.json()
    assert body["status"] == "ready"
    assert list(body["checks"]) == ["database"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["ms"] >= 0


def test_readyz_verbose_lists_redis_when_configured(with_redis: AuthgateServer) -> None:
    with with_redis.admin_client() as http:
        answer = http.get("/readyz?verbose")
    assert answer.status_code == 200
    checks = answer.json()["checks"]
    assert set(checks) == {"database", "redis"}
    assert checks["redis"]["ok"] is True
    assert checks["redis"]["ms"] >= 0


def test_an_unreachable_redis_is_reported_but_the_replica_stays_ready(
    redis_away: AuthgateServer,
) -> None:
    with redis_away.public_client() as http:
        plain = http.get("/readyz")
        verbose = http.get("/readyz?verbose")
    assert (plain.status_code, plain.json()) == (200, {"status": "ready", "redis": "unreachable"})
    assert verbose.status_code == 200
    assert verbose.json()["checks"]["redis"]["ok"] is False
    assert verbose.json()["checks"]["database"]["ok"] is True


def test_an_unreachable_redis_fails_readiness_when_required(
    redis_required_and_away: AuthgateServer,
) -> None:
    with redis_required_and_away.public_client() as http:
        plain = http.get("/readyz")
        verbose = http.get("/readyz?verbose")
    assert plain.status_code == 503
    assert plain.json() == {"status": "unavailable", "redis": "unreachable"}
    assert verbose.status_code == 503
    body = verbose.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False
