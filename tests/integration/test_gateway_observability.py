"""Stage 6 through a real server: an access-log line per request, Prometheus series per
route on the admin listener."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine
from tests.integration.upstream_app import Upstream


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    return make_server(
        oauth={"scopes": RESOURCE_SCOPES},
        gateway={
            "upstreams": {"main": {"targets": [upstream.url]}},
            "routes": [
                {
                    "name": "orders",
                    "path": "/orders/**",
                    "upstream": "main",
                    "authenticate": ["jwt"],
                    "authorize": {"require": {"scopes_any": ["orders:read"]}},
                },
                {
                    "name": "staff",
                    "path": "/staff/**",
                    "upstream": "main",
                    "authenticate": ["jwt"],
                    "authorize": {"require": {"groups_any": ["staff"]}},
                },
            ],
        },
    )


def access_lines(gate: AuthgateServer) -> list[dict[str, Any]]:
    return gate.access_records()


def wait_for_line(gate: AuthgateServer, **expected: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for record in access_lines(gate):
            if all(record.get(k) == v for k, v in expected.items()):
                return record
        time.sleep(0.1)
    raise AssertionError(f"no access line with {expected}")


def series(gate: AuthgateServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = httpx.get(f"{gate.admin}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_a_forwarded_request_is_logged_with_subject_target_and_timings(
    gate: AuthgateServer, upstream: Upstream
) -> None:
    worker = machine(gate, scope="orders:read")
    token = client_token(gate, worker)["access_token"]
    with gate.public_client() as http:
        assert http.get("/orders/7?secret=xyz", headers={"Authorization": f"Bearer {token}"})
    record = wait_for_line(gate, route="orders", path="/orders/7", status=200)
    assert record["client"] == worker["client_id"]
    assert record["upstream_target"] == upstream.url
    assert record["auth_ms"] >= 0 and record["upstream_ms"] > 0
    assert "xyz" not in json.dumps(record)


def test_a_refusal_is_logged_with_its_reason(gate: AuthgateServer) -> None:
    with gate.public_client() as http:
        assert http.get("/orders/refused").status_code == 401
    record = wait_for_line(gate, path="/orders/refused")
    assert record["status"] == 401
    assert record["upstream_ms"] is None
    assert record["reason_id"]


def test_a_denial_is_logged_with_who_was_refused(gate: AuthgateServer) -> None:
    worker = machine(gate, scope="orders:read")
    token = client_token(gate, worker)["access_token"]
    with gate.public_client() as http:
        answer = http.get("/staff/list", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    record = wait_for_line(gate, path="/staff/list")
    assert record["route"] == "staff"
    assert record["client"] == worker["client_id"]
    assert record["subject"] == worker["client_id"]
    assert record["reason_id"] == answer.json()["reason_id"]


def test_requests_are_counted_per_route_and_status_on_the_admin_listener(
    gate: AuthgateServer,
) -> None:
    key = (
        "authgate_gate_requests_total",
        frozenset({("route", "orders"), ("method", "GET"), ("status", "401")}),
    )
    before = series(gate).get(key, 0)
    with gate.public_client() as http:
        for _ in range(3):
            assert http.get("/orders/x").status_code == 401
    assert series(gate)[key] == before + 3


def test_unrouted_requests_are_counted_under_a_dash(gate: AuthgateServer) -> None:
    with gate.public_client() as http:
        assert http.get("/nowhere").status_code == 404
    key = (
        "authgate_gate_requests_total",
        frozenset({("route", "-"), ("method", "GET"), ("status", "404")}),
    )
    assert series(gate)[key] >= 1


def test_metrics_are_not_served_on_the_public_listener(gate: AuthgateServer) -> None:
    with gate.public_client() as http:
        answer = http.get("/metrics")
    assert answer.status_code == 404
    assert "authgate_gate" not in answer.text
