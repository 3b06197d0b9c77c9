"""`server.workers`: one parent binds and bootstraps once, N worker processes serve the same
listeners as replicas on one machine (issue 12, "All the cores of one machine").

Which worker answers is the kernel's choice; `WorkerClient` reconnects until the chosen one
has accepted, and /proc tells who holds a connection. Nothing here measures time: changes
that travel between workers are waited for with a generous deadline.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from authgate.cli.devcert import write_dev_cert
from tests.integration.cluster_support import PROXY, cluster_settings
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer, deep_merge, free_port
from tests.integration.oauth_support import client_token, machine
from tests.integration.process_support import (
    WorkerClient,
    alive,
    children,
    owner,
    terminate,
    wait_until,
)
from tests.integration.upstream_app import Upstream
from tests.redis_support import REDIS_URL, redis_or_skip, unique_prefix

WORKERS = 2
PASSWORD = "Correct-Horse-7-battery"
DEADLINE = 30.0
"""Seconds to wait for what travels between processes (revocations: within 5 s)."""


def workers_of(server: AuthgateServer, count: int = WORKERS) -> set[int]:
    """The server's worker pids, once it has `count` of them."""
    assert server.process is not None
    parent = server.process.pid
    now: set[int] = set()

    def done() -> bool:
        nonlocal now
        now = children(parent)
        return len(now) == count

    assert wait_until(done), now
    return now


def on(server: AuthgateServer, pid: int, workers: set[int], admin: bool = False) -> WorkerClient:
    return WorkerClient(server.admin_port if admin else server.public_port, pid, workers)


def route(name: str, upstream: str) -> dict[str, Any]:
    return {
        "name": name,
        "path": f"/{name}/**",
        "upstream": upstream,
        "authenticate": ["anonymous"],
        "authorize": "allow",
    }


def gateway(upstream: Upstream, *names: str) -> dict[str, Any]:
    return {
        "upstreams": {"echo": {"targets": [upstream.url]}},
        "routes": [route(name, "echo") for name in ("echo", *names)],
    }


def rewrite_config(server: AuthgateServer, **overrides: Any) -> None:
    """Change the file the server started from (what a reload re-reads)."""
    server.overrides = {**server.overrides, **overrides}
    (server.workdir / "authgate.yaml").write_text(yaml.safe_dump(server.config))


def hangup(server: AuthgateServer) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)


def replaced(server: AuthgateServer, workers: set[int], victim: int) -> set[int]:
    """The workers once `victim` has a successor."""
    assert server.process is not None
    parent = server.process.pid
    now: set[int] = set()

    def done() -> bool:
        nonlocal now
        now = children(parent)
        return len(now) == WORKERS and victim not in now and len(now - workers) == 1

    assert wait_until(done, DEADLINE), now
    return now


def serves(client: WorkerClient, path: str) -> bool:
    return client.request("GET", path)[0] == 200


@pytest.fixture(scope="module")
def pool(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    return make_server(server={"workers": WORKERS}, gateway=gateway(upstream))


# --- start: once, then N --------------------------------------------------------------------


def test_the_parent_runs_two_workers_and_each_answers(pool: AuthgateServer) -> None:
    workers = workers_of(pool)
    assert len(workers) == WORKERS
    for pid in workers:
        assert on(pool, pid, workers).request("GET", "/healthz")[0] == 200
        assert on(pool, pid, workers, admin=True).request("GET", "/healthz")[0] == 200


def test_migrations_secrets_and_the_first_key_are_made_once(pool: AuthgateServer) -> None:
    workers_of(pool)
    records = pool.log_records()
    messages = [str(r.get("message", "")) for r in records]
    assert sum("Running upgrade  -> 0001" in m for m in messages) == 1
    assert sum(m.startswith("generated an admin token") for m in messages) == 1
    assert sum(m.startswith("authgate public on") for m in messages) == 1
    assert [r for r in records if r["level"] in ("ERROR", "CRITICAL")] == []
    with pool.admin_client() as admin:
        keys = admin.get("/admin/keys").json()["items"]
    assert len(keys) == 1


def test_many_requests_on_fresh_connections_all_succeed_and_reach_both_workers(
    pool: AuthgateServer,
) -> None:
    workers = workers_of(pool)
    answered_by = set()
    statuses = []
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", pool.public_port), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = sock.recv(64)
            statuses.append(head.split(b" ")[1])
            answered_by.add(owner(pool.public_port, sock.getsockname()[1], workers))
    assert statuses == [b"200"] * 200
    assert answered_by - {None} == workers


def test_every_worker_serves_a_tls_listener_bound_once_by_the_parent(
    make_server: ServerFactory, upstream: Upstream, tmp_path: Path
) -> None:
    pair = write_dev_cert(tmp_path, [], 2, force=False)
    port = free_port()
    tls = {"cert": str(pair.cert), "key": str(pair.key)}
    server = make_server(
        server={"workers": WORKERS},
        gateway={**gateway(upstream), "listen": [{"listen": f"127.0.0.1:{port}", "tls": tls}]},
    )
    workers = workers_of(server)
    trusting = ssl.create_default_context(cafile=str(pair.cert))
    for pid in workers:
        answer = WorkerClient(port, pid, workers, tls=trusting).request("GET", "/echo/1")
        assert answer[0] == 200
        assert answer[1]["path"] == "/echo/1"


def test_a_taken_port_stops_the_start_before_any_worker_or_migration(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        ran = serve(tmp_path, {"public": {"listen": f"127.0.0.1:{port}"}})
    assert ran.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in ran.stderr
    assert not (tmp_path / "data").exists()


# --- one database, one user pool ------------------------------------------------------------


def test_a_user_signed_up_on_one_worker_confirms_and_logs_in_on_the_other(
    pool: AuthgateServer,
) -> None:
    first, second = (on(pool, pid, workers_of(pool)) for pid in sorted(workers_of(pool)))
    email = unique_email("worker")
    assert first.request("POST", "/v1/signup", {"email": email, "password": PASSWORD})[0] == 201
    code = pool.wait_for_mail(email).code
    confirmed = second.request("POST", "/v1/signup/confirm", {"username": email, "code": code})
    assert confirmed[0] == 200
    status, tokens = second.request("POST", "/v1/login", {"username": email, "password": PASSWORD})
    assert status == 200
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert first.request("GET", "/v1/me", headers=bearer)[1]["email"] == email


def test_a_sign_out_everywhere_on_one_worker_is_refused_by_the_other(
    pool: AuthgateServer,
) -> None:
    first, second = (on(pool, pid, workers_of(pool)) for pid in sorted(workers_of(pool)))
    email = unique_email("signout")
    with pool.admin_client() as admin:
        made = admin.post(
            "/admin/users", json={"email": email, "password": PASSWORD, "email_verified": True}
        )
    assert made.status_code == 201, made.text
    tokens = first.request("POST", "/v1/login", {"username": email, "password": PASSWORD})[1]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert second.request("GET", "/v1/me", headers=bearer)[0] == 200

    assert first.request("POST", "/v1/logout/all", headers=bearer)[0] == 200

    assert wait_until(
        lambda: second.request("GET", "/v1/me", headers=bearer)[0] == 401, DEADLINE
    ), "the other worker still takes the token"


def test_with_redis_a_token_revoked_on_one_worker_is_refused_by_the_other(
    make_server: ServerFactory,
) -> None:
    """Database polling set to an hour: only Redis's notice can carry the revocation."""
    redis_or_skip()
    server = make_server(
        server={"workers": WORKERS}, **cluster_settings(REDIS_URL, unique_prefix("workers"))
    )
    workers = workers_of(server)
    first, second = (
        WorkerClient(server.public_port, pid, workers, source=PROXY) for pid in sorted(workers)
    )
    client = machine(server)
    token = str(client_token(server, client, scope="orders:read")["access_token"])
    asking = {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "api.example.com",
        "X-Forwarded-Uri": "/orders/1",
        "Authorization": f"Bearer {token}",
    }
    assert [w.request("GET", "/_authgate/forward", headers=asking)[0] for w in (first, second)] == [
        200,
        200,
    ]
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()

    revoked = first.request(
        "POST", "/oauth2/revoke", form={"token": token}, headers={"Authorization": f"Basic {basic}"}
    )

    assert revoked[0] == 200
    assert wait_until(
        lambda: second.request("GET", "/_authgate/forward", headers=asking)[0] == 401, DEADLINE
    )


# --- reloads --------------------------------------------------------------------------------


def test_sighup_to_the_parent_reloads_the_gate_in_every_worker(
    pool: AuthgateServer, upstream: Upstream
) -> None:
    workers = workers_of(pool)
    clients = [on(pool, pid, workers) for pid in workers]
    assert [serves(c, "/hup/1") for c in clients] == [False, False]
    rewrite_config(pool, gateway=gateway(upstream, "hup"))

    hangup(pool)

    for client in clients:
        assert wait_until(lambda c=client: serves(c, "/hup/1"), DEADLINE), client.pid


def test_an_admin_reload_on_one_worker_reaches_the_other_without_redis(
    pool: AuthgateServer, upstream: Upstream
) -> None:
    first, second = sorted(workers_of(pool))
    workers = {first, second}
    assert not serves(on(pool, second, workers), "/asked/1")
    rewrite_config(pool, gateway=gateway(upstream, "hup", "asked"))

    bearer = {"Authorization": f"Bearer {pool.admin_token}"}
    reloaded = on(pool, first, workers, admin=True).request(
        "POST", "/admin/gateway/reload", headers=bearer
    )
    assert reloaded[0] == 200, reloaded

    assert wait_until(lambda: serves(on(pool, second, workers), "/asked/1"), DEADLINE)


# --- a worker dies --------------------------------------------------------------------------


def test_a_worker_killed_is_replaced_and_requests_keep_succeeding(pool: AuthgateServer) -> None:
    workers = workers_of(pool)
    victim = min(workers)

    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: not alive(victim))

    with pool.public_client() as http:
        assert [http.get("/healthz").status_code for _ in range(50)] == [200] * 50
    now = replaced(pool, workers, victim)
    (replacement,) = now - workers
    assert on(pool, replacement, now).request("GET", "/healthz")[0] == 200
    errors = [str(r["message"]) for r in pool.log_records() if r["level"] == "ERROR"]
    assert any("was killed by SIGKILL; starting another" in m for m in errors), errors


def test_a_replacement_worker_serves_the_routes_its_siblings_reloaded(
    pool: AuthgateServer, upstream: Upstream
) -> None:
    rewrite_config(pool, gateway=gateway(upstream, "hup", "asked", "later"))
    hangup(pool)
    workers = workers_of(pool)
    for pid in workers:
        assert wait_until(lambda p=pid: serves(on(pool, p, workers), "/later/1"), DEADLINE)
    victim = min(workers)

    os.kill(victim, signal.SIGKILL)

    now = replaced(pool, workers, victim)
    (replacement,) = now - workers
    assert serves(on(pool, replacement, now), "/later/1")


# --- stopping -------------------------------------------------------------------------------


class HeldUpstream:
    """Answers each request only when released: a request that stays in flight."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(60)
        try:
            connection, _ = self.sock.accept()
        except OSError:
            return
        with connection:
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(4096)
            self.arrived.set()
            self.release.wait(60)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nheld")

    def close(self) -> None:
        self.release.set()
        self.sock.close()


@pytest.fixture
def held() -> Iterator[HeldUpstream]:
    upstream = HeldUpstream()
    yield upstream
    upstream.close()


def test_sigterm_lets_requests_in_flight_finish_then_stops_every_worker_and_exits_0(
    make_server: ServerFactory, held: HeldUpstream
) -> None:
    server = make_server(
        server={"workers": WORKERS},
        gateway={
            "upstreams": {"held": {"targets": [f"http://127.0.0.1:{held.port}"]}},
            "routes": [route("held", "held")],
        },
    )
    workers = workers_of(server)
    answers: list[httpx.Response] = []
    asking = threading.Thread(
        target=lambda: answers.append(httpx.get(f"{server.public}/held/1", timeout=60))
    )
    asking.start()
    try:
        assert held.arrived.wait(DEADLINE)
        assert server.process is not None

        server.process.send_signal(signal.SIGTERM)

        assert wait_until(
            lambda: any(
                "Waiting for connections to close" in str(r.get("message"))
                for r in server.log_records()
            ),
            DEADLINE,
        )
        held.release.set()
        asking.join(DEADLINE)
        assert [(a.status_code, a.text) for a in answers] == [(200, "held")]
        assert server.process.wait(DEADLINE) == 0
        assert [pid for pid in workers if alive(pid)] == []
    finally:
        for pid in workers:
            terminate(pid)


def test_workers_stop_by_themselves_when_the_parent_is_killed(
    make_server: ServerFactory,
) -> None:
    server = make_server(server={"workers": WORKERS})
    workers = workers_of(server)
    assert server.process is not None
    try:
        server.process.kill()
        server.process.wait()

        assert wait_until(lambda: not any(alive(pid) for pid in workers), DEADLINE)
    finally:
        for pid in workers:
            terminate(pid)


# --- configuration --------------------------------------------------------------------------


def test_one_worker_is_this_process_alone(make_server: ServerFactory) -> None:
    server = make_server(server={"workers": 1})
    assert server.process is not None
    assert children(server.process.pid) == set()


def test_workers_auto_runs_one_per_cpu(make_server: ServerFactory) -> None:
    cpus = len(os.sched_getaffinity(0))
    server = make_server(server={"workers": "auto"})
    assert len(workers_of(server, cpus)) == cpus
    assert any(r.get("workers") == cpus for r in server.log_records())


def serve(tmp_path: Path, overrides: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`authgate serve` with two workers and `overrides`, expected to stop at once."""
    config = tmp_path / "authgate.yaml"
    base = {"data_dir": str(tmp_path / "data"), "server": {"workers": WORKERS}}
    config.write_text(yaml.safe_dump(deep_merge(base, overrides)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "authgate", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )


def test_a_bad_worker_count_is_refused_at_start_naming_the_key(tmp_path: Path) -> None:
    ran = serve(tmp_path, {"server": {"workers": "many"}})
    assert ran.returncode == 1
    assert "server.workers" in ran.stderr
    assert not (tmp_path / "data").exists()
