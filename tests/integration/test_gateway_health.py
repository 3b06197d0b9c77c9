"""Upstream health through a real server and real upstream processes: a target killed
mid-run costs no idempotent request, comes back after its health checks pass, passive
ejection works without active checks, and a failed connection is retried elsewhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.upstream_app import Upstream

CHECKS = {"interval": "100ms", "timeout": "500ms", "healthy_threshold": 2, "unhealthy_threshold": 2}


def route(name: str, upstream: str) -> dict[str, Any]:
    return {
        "name": name,
        "path": f"/{name}/**",
        "upstream": upstream,
        "authenticate": ["anonymous"],
        "authorize": "allow",
    }


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    process = Upstream(tmp_path_factory.mktemp("first"), "first").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    process = Upstream(tmp_path_factory.mktemp("second"), "second").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, first: Upstream, second: Upstream) -> AuthgateServer:
    dead = f"http://127.0.0.1:{free_port()}"
    config = {
        "upstreams": {
            "pool": {"targets": [first.url, second.url], "health": CHECKS},
            "passive": {"targets": [dead, second.url]},
            "retry": {"targets": [dead, second.url]},
        },
        "routes": [route("pool", "pool"), route("passive", "passive"), route("retry", "retry")],
    }
    return make_server(gateway=config)


@pytest.fixture
def http(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client() as client:
        yield client


@pytest.fixture
def both_up(first: Upstream, http: httpx.Client) -> None:
    """Both pool targets running and in rotation (a previous test may have killed one)."""
    if first.process is None or first.process.poll() is not None:
        first.start()
    wait_until_served_by(http, "first")


def served_by(http: httpx.Client, path: str = "/pool/x") -> str:
    answer = http.get(path)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["server"])


def wait_until_served_by(http: httpx.Client, server: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if served_by(http) == server:
            return
        time.sleep(0.02)
    raise AssertionError(f"{server} received no request within {seconds} s")


@pytest.mark.usefixtures("both_up")
def test_a_target_killed_mid_run_costs_no_idempotent_request(
    http: httpx.Client, first: Upstream
) -> None:
    outcomes: list[str] = []
    for index in range(300):
        if index == 100:
            first.kill()
        try:
            answer = http.get("/pool/x")
            outcomes.append(answer.json()["server"] if answer.status_code == 200 else "failed")
        except httpx.TransportError:
            outcomes.append("failed")
    assert "failed" not in outcomes
    assert set(outcomes[:100]) == {"first", "second"}
    assert set(outcomes[-100:]) == {"second"}


@pytest.mark.usefixtures("both_up")
def test_a_restarted_target_gets_traffic_after_its_health_checks_pass(
    http: httpx.Client, first: Upstream
) -> None:
    first.kill()
    for _ in range(20):  # until the pool has taken it out of rotation
        assert served_by(http) in {"first", "second"}
    assert {served_by(http) for _ in range(10)} == {"second"}
    first.start()
    wait_until_served_by(http, "first")
    assert {served_by(http) for _ in range(10)} == {"first", "second"}


def test_a_target_that_refuses_connections_is_ejected_without_active_checks(
    http: httpx.Client,
) -> None:
    # POST is not retried, so each request that reaches the dead target fails; after
    # two connection failures the target is ejected and every request succeeds.
    statuses = [http.post("/passive/x", content=b"1").status_code for _ in range(30)]
    assert statuses.count(502) == 2
    assert set(statuses[-20:]) == {200}


def test_a_failed_connection_on_an_idempotent_request_is_retried_elsewhere(
    http: httpx.Client,
) -> None:
    servers = [served_by(http, "/retry/x") for _ in range(10)]
    assert servers == ["second"] * 10
