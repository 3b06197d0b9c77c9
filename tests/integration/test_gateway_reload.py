"""Reloading the gate's routes while it serves: admin API, SIGHUP, refusals, no dropped requests.

The server re-reads the very file it started from (the harness's `authgate.yaml`), which the
tests rewrite. Reloading does not depend on the storage backend, so these run on SQLite.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.harness import AuthgateServer
from tests.integration.upstream_app import Upstream

ANONYMOUS = {"authenticate": ["anonymous"], "authorize": "allow"}


def route(name: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "path": path, "upstream": "echo", **ANONYMOUS, **extra}


def gateway(upstream: Upstream, *routes: dict[str, Any], **upstream_extra: Any) -> dict[str, Any]:
    return {
        "upstreams": {"echo": {"targets": [upstream.url], **upstream_extra}},
        "routes": list(routes),
    }


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    server = Upstream(tmp_path_factory.mktemp("upstream"), "echo").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def started(
    tmp_path_factory: pytest.TempPathFactory, upstream: Upstream
) -> Iterator[AuthgateServer]:
    workdir = tmp_path_factory.mktemp("reload")
    overrides = {"gateway": gateway(upstream, route("a", "/a/**"))}
    server = AuthgateServer(workdir, f"sqlite+aiosqlite:///{workdir / 'db.sqlite'}", overrides)
    yield server.start()
    server.stop()


@pytest.fixture
def server(started: AuthgateServer, upstream: Upstream) -> AuthgateServer:
    """The module's server, back on its starting configuration: only route `a`."""
    started.overrides.clear()
    rewrite(started, gateway=gateway(upstream, route("a", "/a/**")))
    assert reload(started).json()["routes"] == 1
    return started


def rewrite(server: AuthgateServer, **overrides: Any) -> None:
    """Change the server's configuration file as an operator would."""
    server.overrides.update(overrides)
    (server.workdir / "authgate.yaml").write_text(yaml.safe_dump(server.config))


def log_after(server: AuthgateServer, offset: int) -> str:
    return server.log.read_bytes()[offset:].decode(errors="replace")


def hup(server: AuthgateServer) -> int:
    """Send SIGHUP; returns where the log stood before, for log_after."""
    assert server.process is not None and server.process.poll() is None
    offset = server.log.stat().st_size
    server.process.send_signal(signal.SIGHUP)
    return offset


def reload(server: AuthgateServer) -> httpx.Response:
    with server.admin_client() as admin:
        return admin.post("/admin/gateway/reload")


def status(server: AuthgateServer, path: str) -> int:
    return httpx.get(f"{server.public}{path}", timeout=30).status_code


def eventually(check: Any, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds}s: {what}")


def test_admin_reload_adds_a_route(server: AuthgateServer, upstream: Upstream) -> None:
    assert status(server, "/b/x") == 404
    rewrite(server, gateway=gateway(upstream, route("a", "/a/**"), route("b", "/b/**")))
    response = reload(server)
    assert response.status_code == 200
    assert response.json() == {
        "reloaded": True,
        "routes": 2,
        "upstreams": 1,
        "restart_needed": [],
    }
    assert status(server, "/b/x") == 200
    assert status(server, "/a/x") == 200


def test_admin_reload_removes_a_route(server: AuthgateServer, upstream: Upstream) -> None:
    rewrite(server, gateway=gateway(upstream, route("b", "/b/**")))
    assert reload(server).status_code == 200
    assert status(server, "/a/x") == 404
    assert status(server, "/b/x") == 200


def test_an_invalid_config_is_refused_with_every_problem_and_the_old_routes_serve_on(
    server: AuthgateServer, upstream: Upstream
) -> None:
    broken = gateway(upstream, route("a", "/a/**"), route("b", "/b/**", authenticate=["magic"]))
    broken["routes"].append({**route("c", "/c"), "authorize": "maybe"})
    rewrite(server, gateway=broken)
    response = reload(server)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_config"
    source = str(server.workdir / "authgate.yaml")
    assert any(
        p.startswith(f"{source}: gateway.routes.1.authenticate") and "'b'" in p
        for p in body["problems"]
    ), body
    assert any(
        p.startswith(f"{source}: gateway.routes.2.authorize") and "maybe" in p
        for p in body["problems"]
    ), body
    assert status(server, "/a/x") == 200
    assert status(server, "/b/x") == 404


def test_a_route_to_an_undeclared_upstream_is_refused(
    server: AuthgateServer, upstream: Upstream
) -> None:
    rewrite(server, gateway=gateway(upstream, route("b", "/b/**", upstream="nowhere")))
    response = reload(server)
    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert problem.startswith(f"{server.workdir / 'authgate.yaml'}: gateway.routes.0.upstream:")
    assert "'nowhere' is not declared" in problem
    assert status(server, "/a/x") == 200


def test_a_file_that_is_no_longer_yaml_is_refused(server: AuthgateServer) -> None:
    (server.workdir / "authgate.yaml").write_text("gateway: [unclosed\n")
    response = reload(server)
    assert response.status_code == 400
    assert "not valid YAML" in response.json()["problems"][0]
    assert status(server, "/a/x") == 200


def test_a_missing_upstream_secret_is_refused_naming_its_key(
    server: AuthgateServer, upstream: Upstream
) -> None:
    secret = server.workdir / "no-such-password"
    basic_auth = {"username": "svc", "password": f"file:{secret}"}
    rewrite(server, gateway=gateway(upstream, route("b", "/b/**"), basic_auth=basic_auth))
    response = reload(server)
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert any("basic_auth" in p and str(secret) in p for p in problems), problems
    assert status(server, "/a/x") == 200
    assert status(server, "/b/x") == 404


def test_reload_needs_the_admin_token(server: AuthgateServer) -> None:
    response = httpx.post(f"{server.admin}/admin/gateway/reload")
    assert response.status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert httpx.post(f"{server.admin}/admin/gateway/reload", headers=wrong).status_code == 401


def test_reload_is_not_served_on_the_public_listener(server: AuthgateServer) -> None:
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    response = httpx.post(f"{server.public}/admin/gateway/reload", headers=headers)
    assert response.status_code == 404


def test_routes_lists_what_serves_now(server: AuthgateServer, upstream: Upstream) -> None:
    b = route("b", "/b/*", methods=["GET"], hosts=["api.example.com"], priority=2)
    b.update(authenticate=["jwt"], authorize={"require": {"scopes_any": ["b:read"]}})
    rewrite(server, gateway=gateway(upstream, route("a", "/a/**"), b))
    assert reload(server).status_code == 200
    with server.admin_client() as admin:
        listed = admin.get("/admin/gateway/routes").json()
    assert listed["items"] == [
        {
            "name": "a",
            "hosts": [],
            "path": "/a/**",
            "methods": [],
            "priority": 0,
            "upstream": "echo",
            "authenticate": ["anonymous"],
            "authorize": "allow",
        },
        {
            "name": "b",
            "hosts": ["api.example.com"],
            "path": "/b/*",
            "methods": ["GET"],
            "priority": 2,
            "upstream": "echo",
            "authenticate": ["jwt"],
            "authorize": "require",
        },
    ]


def test_routes_after_a_refused_reload_are_the_old_ones(server: AuthgateServer) -> None:
    rewrite(server, gateway={"routes": [route("x", "/x")]})
    assert reload(server).status_code == 400
    with server.admin_client() as admin:
        names = [r["name"] for r in admin.get("/admin/gateway/routes").json()["items"]]
    assert names == ["a"]


def test_changes_outside_the_gateway_are_reported_as_needing_a_restart(
    server: AuthgateServer, upstream: Upstream
) -> None:
    listen = [{"listen": "127.0.0.1:1"}]
    rewrite(
        server,
        throttle={"login_failures": 99},
        gateway={**gateway(upstream, route("a", "/a/**"), route("b", "/b/**")), "listen": listen},
    )
    response = reload(server)
    assert response.status_code == 200
    assert response.json()["restart_needed"] == ["throttle", "gateway.listen"]
    assert status(server, "/b/x") == 200, "the routes apply; the listeners stay as started"
    assert "not applied until a restart: throttle, gateway.listen" in server.log.read_text()


def test_sighup_reloads_the_routes(server: AuthgateServer, upstream: Upstream) -> None:
    rewrite(server, gateway=gateway(upstream, route("a", "/a/**"), route("b", "/b/**")))
    offset = hup(server)
    eventually(lambda: status(server, "/b/x") == 200, "the SIGHUP reload serves /b")
    assert "gateway reloaded: 2 routes, 1 upstreams" in log_after(server, offset)


def test_sighup_logs_a_needed_restart(server: AuthgateServer, upstream: Upstream) -> None:
    rewrite(server, throttle={"login_failures": 99})
    offset = hup(server)
    eventually(
        lambda: "not applied until a restart: throttle" in log_after(server, offset),
        "the warning naming the section",
    )


def test_sighup_with_an_invalid_config_logs_every_problem_and_keeps_serving(
    server: AuthgateServer, upstream: Upstream
) -> None:
    rewrite(server, gateway=gateway(upstream, route("b", "/b/**", upstream="nowhere")))
    offset = hup(server)
    eventually(
        lambda: "previous configuration keeps serving" in log_after(server, offset),
        "the refusal in the log",
    )
    log = log_after(server, offset)
    assert f"{server.workdir / 'authgate.yaml'}: gateway.routes.0.upstream" in log
    assert server.process is not None and server.process.poll() is None
    assert status(server, "/a/x") == 200
    assert status(server, "/b/x") == 404


def test_concurrent_reloads_all_succeed_one_after_another(
    server: AuthgateServer, upstream: Upstream
) -> None:
    rewrite(server, gateway=gateway(upstream, route("a", "/a/**"), route("b", "/b/**")))

    async def five() -> list[int]:
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        async with httpx.AsyncClient(base_url=server.admin, headers=headers, timeout=30) as c:
            answers = await asyncio.gather(*(c.post("/admin/gateway/reload") for _ in range(5)))
        return [a.status_code for a in answers]

    assert asyncio.run(five()) == [200] * 5
    assert status(server, "/b/x") == 200


RELOADS = 10
WORKERS = 8
MAX_REQUESTS = 5000


def test_reloading_drops_no_request(server: AuthgateServer, upstream: Upstream) -> None:
    """Requests run through the gate without pause while it reloads ten times.

    Each reload changes the upstream's settings, so the gate builds a new pool and closes
    the old one once the requests still on it have finished; some requests are slow so
    that they are in flight across a swap. Every request must answer 200 from the upstream.
    """
    configs = [
        gateway(upstream, route("a", "/a/**"), route("slow", "/slow"), timeouts={"read": read})
        for read in ("30s", "31s")
    ]
    rewrite(server, gateway=configs[0])
    assert reload(server).status_code == 200
    failures: list[str] = []
    done = 0

    async def worker(client: httpx.AsyncClient, index: int, stop: asyncio.Event) -> None:
        nonlocal done
        while not stop.is_set() and done < MAX_REQUESTS:
            path = "/slow?seconds=0.2" if index % 4 == 0 else f"/a/{index}"
            try:
                response = await client.get(path)
            except httpx.TransportError as exc:
                failures.append(f"{path}: {exc!r}")
            else:
                if response.status_code != 200 or response.json()["server"] != "echo":
                    failures.append(f"{path}: {response.status_code} {response.text[:200]}")
            done += 1

    async def run() -> list[int]:
        stop = asyncio.Event()
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        async with (
            httpx.AsyncClient(base_url=server.public, timeout=30) as client,
            httpx.AsyncClient(base_url=server.admin, headers=headers, timeout=30) as admin,
        ):
            workers = [asyncio.create_task(worker(client, i, stop)) for i in range(WORKERS)]
            statuses = []
            for n in range(RELOADS):
                await asyncio.sleep(0.15)
                rewrite(server, gateway=configs[(n + 1) % 2])
                statuses.append((await admin.post("/admin/gateway/reload")).status_code)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), timeout=60)
        return statuses

    statuses = asyncio.run(run())
    assert statuses == [200] * RELOADS
    assert done > RELOADS, "requests ran alongside the reloads"
    assert failures == []
