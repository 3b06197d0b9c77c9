"""What the gate's proxy tests share: a configuration with a route for each case, the
gate started on it, and helpers to read what the upstream saw.

The trusted proxy is 127.0.0.2 (Linux routes all of 127/8 to loopback); requests from
127.0.0.1 stand for anyone else.
"""

from __future__ import annotations

from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import RESOURCE_SCOPES

PROXY = "127.0.0.2"
LEGACY_USER = "legacy-user"
LEGACY_PASSWORD = "s3cret: with spaces"


def route(name: str, path: str, upstream: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "upstream": upstream,
        "authenticate": ["anonymous"],
        "authorize": "allow",
        **extra,
    }


def gateway(upstream: str, garbage: str, secrets_dir: Path) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}"
    fast_checks = {"interval": "100ms", "timeout": "500ms", "unhealthy_threshold": 1}
    return {
        "trusted_proxies": [f"{PROXY}/32"],
        "upstreams": {
            "main": {"targets": [upstream]},
            "named": {"targets": [upstream.replace("127.0.0.1", "localhost")]},
            "legacy": {
                "targets": [upstream],
                "basic_auth": {
                    "username": f"file:{secrets_dir / 'user'}",
                    "password": f"file:{secrets_dir / 'password'}",
                },
            },
            "impatient": {"targets": [upstream], "timeouts": {"read": "500ms"}},
            "garbage": {"targets": [garbage]},
            "dead": {"targets": [dead]},
            "down": {"targets": [dead, f"http://127.0.0.1:{free_port()}"], "health": fast_checks},
        },
        "routes": [
            {
                **route("echo", "/echo/**", "main", strip_prefix="/echo"),
                "authenticate": ["jwt"],
                "authorize": {"require": {"scopes_any": ["orders:read"]}},
            },
            {
                **route("admin", "/admin/**", "main"),
                "authenticate": ["jwt"],
                "authorize": {"require": {"groups_any": ["admin"]}},
            },
            route("open", "/open/**", "main", strip_prefix="/open"),
            route("unstripped", "/unstripped/**", "main"),
            route("named", "/named/**", "named"),
            route("only-get", "/only-get", "main", methods=["GET"]),
            route("legacy", "/legacy/**", "legacy", strip_prefix="/legacy"),
            route("tiny", "/tiny/**", "main", strip_prefix="/tiny", max_body="1KiB"),
            route("sealed", "/sealed/**", "dead", max_body="1KiB"),
            route("slow", "/slow", "impatient"),
            route("garbage", "/garbage", "garbage"),
            route("down", "/down", "down"),
        ],
    }


def start_gate(
    make_server: ServerFactory,
    upstream: str,
    garbage: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AuthgateServer:
    secrets_dir = tmp_path_factory.mktemp("secrets")
    (secrets_dir / "user").write_text(LEGACY_USER + "\n")
    (secrets_dir / "password").write_text(LEGACY_PASSWORD + "\n")
    config = gateway(upstream, garbage, secrets_dir)
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=config)


def described(method: str = "GET", uri: str = "/orders/1", **headers: str) -> dict[str, str]:
    """The headers Traefik or Caddy send to `/_authgate/forward` to describe a request."""
    return {
        "X-Forwarded-Method": method,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "api.example.com",
        "X-Forwarded-Uri": uri,
        **headers,
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def arrived(answer: httpx.Response) -> dict[str, Any]:
    """What the upstream saw, with its headers as a lower-case dict (and the raw list)."""
    assert answer.status_code == 200, answer.text
    seen: dict[str, Any] = answer.json()
    seen["header_list"] = seen["headers"]
    seen["headers"] = {k: v for k, v in seen["headers"]}
    return seen


def assert_failure(answer: httpx.Response, status: int, error: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error
    assert set(body) <= {"error", "message", "reason_id"}
    assert answer.headers["cache-control"] == "no-store"


def raw_get(gate: AuthgateServer, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """A request line sent exactly as written (httpx would normalize the path)."""
    conn = HTTPConnection("127.0.0.1", gate.public_port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
