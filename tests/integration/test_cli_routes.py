"""`authgate routes check` run as a user runs it, against the configuration and SQLite
database of a running server (which mints the tokens it is asked about)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine, post_form

NOWHERE = ["http://127.0.0.1:9"]
GATEWAY = {
    "upstreams": {"orders": {"targets": NOWHERE}},
    "routes": [
        {
            "name": "orders-read",
            "path": "/orders/**",
            "methods": ["GET"],
            "upstream": "orders",
            "strip_prefix": "/orders",
            "authenticate": ["jwt", "client_credentials"],
            "authorize": {"require": {"scopes_any": ["orders:read"]}},
            "rate_limit": {"key": "client", "rate": "100/minute"},
        },
        {
            "name": "office",
            "path": "/office/*",
            "upstream": "orders",
            "authenticate": ["jwt"],
            "authorize": {"policy": {"action": "{method_verb}", "resource": "office:{path[1]}"}},
        },
        {
            "name": "public",
            "path": "/public/**",
            "upstream": "orders",
            "authenticate": ["anonymous"],
            "authorize": "allow",
        },
    ],
}


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthgateServer]:
    workdir = tmp_path_factory.mktemp("routes")
    url = f"sqlite+aiosqlite:///{workdir / 'authgate.db'}"
    server = AuthgateServer(
        workdir, url, {"oauth": {"scopes": RESOURCE_SCOPES}, "gateway": GATEWAY}
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def config(gate: AuthgateServer) -> Path:
    return gate.workdir / "authgate.yaml"


@pytest.fixture(scope="module")
def worker(gate: AuthgateServer) -> dict[str, Any]:
    return machine(gate)


def check(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "authgate", "routes", "check", *args, "--config", str(config)]
    return subprocess.run(
        command, cwd=config.parent, capture_output=True, text=True, timeout=120, check=False
    )


def as_json(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = check(config, *args, "--json")
    assert result.stdout, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, answer


def test_it_names_the_route_and_what_it_requires(config: Path) -> None:
    result = check(config, "GET", "https://api.example.com/orders/7/items?page=2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in (
        "route             orders-read",
        "path              /orders/**",
        "upstream          orders",
        "upstream path     /7/items?page=2",
        "authenticate      jwt, client_credentials",
        "authorize         require",
        'authorize options {"scopes_any": ["orders:read"]}',
        "rate limit        100 per 60s per client (in each process)",
    ):
        assert expected in lines, result.stdout


def test_the_json_answer_carries_the_same(config: Path) -> None:
    status, answer = as_json(config, "HEAD", "/orders/7")
    assert status == 0
    assert answer["route"] == "orders-read"
    assert answer["upstream_path"] == "/7"
    assert answer["targets"] == NOWHERE
    assert answer["authorize_options"] == {"scopes_any": ["orders:read"]}
    assert "outcome" not in answer


def test_no_route_says_404_and_nothing_else(config: Path) -> None:
    result = check(config, "GET", "/nowhere")
    assert result.returncode == 1
    assert "404" in result.stdout
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["verdict", "why"]
    assert as_json(config, "GET", "/nowhere")[1] == {
        "outcome": {"status": 404, "error": "not_found", "message": "No route serves this request."}
    }


def test_a_method_no_route_serves_is_405(config: Path) -> None:
    status, answer = as_json(config, "DELETE", "/orders/7")
    assert status == 1
    assert answer["outcome"]["status"] == 405


def test_an_ambiguous_path_is_400(config: Path) -> None:
    status, answer = as_json(config, "GET", "/public/%2e%2e/orders/1")
    assert status == 1
    assert answer["outcome"]["status"] == 400


def test_a_token_with_the_scope_would_pass(
    gate: AuthgateServer, config: Path, worker: dict[str, Any]
) -> None:
    token = client_token(gate, worker, scope="orders:read")["access_token"]
    result = check(config, "GET", "/orders/7", "--token", token)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "would pass (200)" in result.stdout
    assert f"subject           {worker['client_id']}" in result.stdout.splitlines()


def test_a_token_without_the_scope_is_refused_with_the_reason(
    gate: AuthgateServer, config: Path, worker: dict[str, Any]
) -> None:
    token = client_token(gate, worker, scope="orders:write")["access_token"]
    result = check(config, "GET", "/orders/7", "--token", token)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused 403 forbidden reason_id=scope_missing" in result.stdout


def test_a_forged_token_is_refused_as_invalid(config: Path) -> None:
    status, answer = as_json(config, "GET", "/orders/7", "--token", "a.b.c")
    assert status == 1
    assert answer["outcome"]["status"] == 401
    assert answer["outcome"]["reason_id"] == "invalid_token"


def test_a_revoked_token_is_refused(
    gate: AuthgateServer, config: Path, worker: dict[str, Any]
) -> None:
    token = client_token(gate, worker, scope="orders:read")["access_token"]
    assert post_form(gate, "/oauth2/revoke", worker, token=token).status_code == 200
    status, answer = as_json(config, "GET", "/orders/7", "--token", token)
    assert status == 1
    assert answer["outcome"]["reason_id"] == "invalid_token"


def test_an_anonymous_route_passes_any_token_check(config: Path) -> None:
    status, answer = as_json(config, "GET", "/public/x", "--token", "not-a-jwt")
    assert status == 0, answer
    assert answer["outcome"]["authenticated_by"] == "anonymous"


@pytest.mark.parametrize("url", ["ftp://api.example.com/orders/1", "orders/1"])
def test_a_url_that_is_not_http_is_a_usage_error(config: Path, url: str) -> None:
    result = check(config, "GET", url)
    assert result.returncode == 2
    assert "the URL must be" in result.stderr


def test_a_config_error_is_exit_2_naming_the_route_and_key(tmp_path: Path, config: Path) -> None:
    broken = yaml.safe_load(config.read_text())
    broken["gateway"]["routes"][0]["cors"] = {"origins": ["*"], "credentials": True}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(broken))
    result = check(bad, "GET", "/orders/1")
    assert result.returncode == 2
    assert "gateway.routes.0.cors: route 'orders-read'" in result.stderr


def test_the_client_address_given_is_what_a_policy_sees(
    gate: AuthgateServer, config: Path, worker: dict[str, Any]
) -> None:
    policy = {
        "subjects": [worker["client_id"]],
        "actions": ["read"],
        "resources": ["office:<.*>"],
        "effect": "allow",
        "conditions": {"remoteIP": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}}},
    }
    with gate.admin_client() as admin:
        assert admin.post("/admin/policies", json=policy).status_code == 201
    token = client_token(gate, worker)["access_token"]
    inside = check(config, "GET", "/office/printer", "--token", token, "--from", "10.1.2.3")
    assert inside.returncode == 0, inside.stdout + inside.stderr
    outside = check(config, "GET", "/office/printer", "--token", token, "--from", "192.0.2.1")
    assert outside.returncode == 1
    assert "policy_denied" in outside.stdout


def test_a_client_address_that_is_not_an_ip_is_a_usage_error(config: Path) -> None:
    result = check(config, "GET", "/public/x", "--from", "somewhere")
    assert result.returncode == 2
