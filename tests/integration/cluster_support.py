"""Replicas of one authgate on one database and one Redis, for the cluster tests.

Database polling is set to an hour, so a change can only reach another replica within a
test through Redis's notices; the tests wait for it with a generous deadline and assert no
delay (they may record the one they saw).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, deep_merge
from tests.integration.oauth_support import RESOURCE_SCOPES
from tests.integration.proxy_support import described

PROXY = "127.0.0.2"
DEADLINE = 10.0
"""Seconds to wait for a change to arrive: generous, the issue's bound is 1 s."""

T = TypeVar("T")

ROUTES: dict[str, Any] = {
    "trusted_proxies": [f"{PROXY}/32"],
    "upstreams": {"orders": {"targets": ["http://127.0.0.1:9"]}},
    "routes": [
        {
            "name": "limited",
            "path": "/limited/**",
            "upstream": "orders",
            "authenticate": ["anonymous"],
            "authorize": "allow",
            "rate_limit": {"key": "ip", "rate": "10/minute"},
        },
        {
            "name": "orders",
            "path": "/orders/**",
            "upstream": "orders",
            "authenticate": ["jwt"],
            "authorize": "allow",
        },
    ],
}


def cluster_settings(redis_url: str, key_prefix: str, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "redis": {"url": redis_url, "key_prefix": key_prefix},
        "oauth": {
            "scopes": RESOURCE_SCOPES,
            "revocation_sync_interval": "1h",
            "policy_sync_interval": "1h",
        },
        "tokens": {"keys_reload_interval": "1h"},
        "gateway": ROUTES,
    }
    for section, values in extra.items():
        settings[section] = {**settings.get(section, {}), **values}
    return settings


def start_replicas(
    make_server: ServerFactory,
    tmp_path_factory: pytest.TempPathFactory,
    count: int,
    settings: dict[str, Any],
) -> list[AuthgateServer]:
    """`count` processes on the first one's database, with its secrets and issuer."""
    first = make_server(**settings)
    shared = {
        **settings,
        "issuer": first.public,
        "secrets": {"key_encryption_key": f"file:{first.data_dir / 'kek'}"},
        "admin": {"token": f"file:{first.data_dir / 'admin-token'}"},
    }
    others = []
    for _ in range(count - 1):
        workdir: Path = tmp_path_factory.mktemp("replica")
        others.append(AuthgateServer(workdir, first.database_url, shared).start())
    return [first, *others]


def forward(server: AuthgateServer, uri: str, token: str | None = None, **headers: str) -> int:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with server.public_client(local_address=PROXY) as http:
        return http.get("/_authgate/forward", headers=described("GET", uri, **headers)).status_code


def some_address() -> str:
    """A caller address of its own (behind the trusted proxy), so budgets start full."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def eventually(probe: Callable[[], T], done: Callable[[T], bool], deadline: float = DEADLINE) -> T:
    """Ask `probe` until `done` says yes or the deadline passed; the last answer."""
    until = time.monotonic() + deadline
    answer = probe()
    while not done(answer) and time.monotonic() < until:
        time.sleep(0.05)
        answer = probe()
    return answer


def first_seen(
    probe: Callable[[], T], expected: T, since: float, until: float | None = None
) -> float | None:
    """Seconds from `since` (a `time.monotonic()`) until `probe` first answered `expected`,
    asking until `until` (default: DEADLINE from now); None if it never did."""
    until = time.monotonic() + DEADLINE if until is None else until
    while True:
        if probe() == expected:
            return time.monotonic() - since
        if time.monotonic() >= until:
            return None
        time.sleep(0.01)


def rewrite_config(server: AuthgateServer, **sections: Any) -> None:
    """Change the file `server` started from (and would reload), section by section."""
    server.overrides = deep_merge(server.overrides, sections)
    (server.workdir / "authgate.yaml").write_text(yaml.safe_dump(server.config))


def admin_on(server: AuthgateServer, token: str) -> httpx.Client:
    """`server`'s admin API, with the admin token the replicas share (the first's)."""
    return httpx.Client(
        base_url=server.admin, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
