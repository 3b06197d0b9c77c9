"""A replica dies behind a load balancer (issue 12, "Faults").

Three `authgate serve` processes on one PostgreSQL behind a real nginx, configured by
deploy/compose/nginx.conf itself (its `upstream` given the three replicas' addresses):
clients send a bounded stream of JWT-authenticated gate requests through nginx (GET and
POST, each proxied by authgate's gate to an echo upstream) while one replica is killed
with SIGKILL. At most the requests in flight when it died may fail; every request started
after it succeeds, because nginx moves a refused connection to the next replica.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.cluster_support import start_replicas
from tests.integration.conftest import ServerFactory
from tests.integration.front_proxy_support import (
    binary_or_skip,
    echo_upstream,
    stop,
    wait_until_serving,
)
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine

COMPOSE_NGINX = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "nginx.conf"
CONCURRENCY = 6
REQUESTS = 300
KILL_AFTER = 100
DEADLINE = 120.0
"""Seconds the whole stream may take at most: a bound on the loop, not a measurement."""


@pytest.fixture(scope="module")
def backend() -> str:
    """Replicas share one database: PostgreSQL."""
    return "postgres"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with echo_upstream() as address:
        yield address


@pytest.fixture(scope="module")
def replicas(
    make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory, upstream: str
) -> Iterator[list[AuthgateServer]]:
    settings: dict[str, Any] = {
        "oauth": {"scopes": RESOURCE_SCOPES},
        "gateway": {
            "trusted_proxies": ["127.0.0.1/32"],
            "upstreams": {"app": {"targets": [f"http://{upstream}"]}},
            "routes": [
                {
                    "name": "orders",
                    "path": "/orders/**",
                    "upstream": "app",
                    "authenticate": ["jwt"],
                    "authorize": {"require": {"scopes_any": ["orders:read"]}},
                }
            ],
        },
    }
    servers = start_replicas(make_server, tmp_path_factory, 3, settings)
    yield servers
    for server in servers[1:]:
        server.stop()


def load_balancer_conf(
    replicas: list[AuthgateServer], upstream: str, port: int, cache: Path
) -> str:
    """deploy/compose/nginx.conf with loopback addresses: its upstream block (and so its
    max_fails, fail_timeout, keepalive and proxy_next_upstream) is what is tested."""
    text = COMPOSE_NGINX.read_text()
    servers = re.findall(r"^( *)server authgate-\d+:8080( [^;]*)?;\n", text, flags=re.M)
    assert len(servers) >= 2, "the compose nginx.conf no longer lists its replicas"
    indent, parameters = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{r.public_port}{parameters};\n" for r in replicas)
    text = re.sub(r"(?:^ *server authgate-\d+:8080[^;]*;\n)+", lines, text, count=1, flags=re.M)
    replaced = {
        "/var/cache/nginx/authgate": str(cache),
        "server whoami:9001;": f"server {upstream};",
        "listen 8080;": f"listen 127.0.0.1:{port};",
    }
    for old, new in replaced.items():
        assert old in text, f"{old!r} is no longer in {COMPOSE_NGINX}"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def nginx(
    replicas: list[AuthgateServer], upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    binary = binary_or_skip("nginx", "apt-get install nginx-light")
    prefix = tmp_path_factory.mktemp("nginx-lb")
    port = free_port()
    (prefix / "site.conf").write_text(load_balancer_conf(replicas, upstream, port, prefix / "c"))
    temp = "".join(
        f"{kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
        + "worker_processes 1;\nevents { worker_connections 256; }\n"
        + f"http {{\naccess_log {prefix / 'access.log'};\n{temp}"
        + f"include {prefix / 'site.conf'};\n}}\n"
    )
    log = prefix / "stderr.log"
    command = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    command += ["-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    with log.open("wb") as output:
        process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=output)
    try:
        wait_until_serving(process, port, "/nginx-health", log)
        yield port
    finally:
        stop(process)


@dataclass(frozen=True)
class Sent:
    started: float
    method: str
    status: int | None
    """None: no HTTP answer at all."""


class Stream:
    """REQUESTS gate requests through nginx from CONCURRENCY clients, bounded in time."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.sent: list[Sent] = []
        self.lock = threading.Lock()
        self.next = 0
        self.until = time.monotonic() + DEADLINE

    def _take(self) -> int | None:
        with self.lock:
            if self.next >= REQUESTS or time.monotonic() > self.until:
                return None
            self.next += 1
            return self.next

    def client(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30) as http:
            while (n := self._take()) is not None:
                method = "POST" if n % 3 == 0 else "GET"
                started = time.monotonic()
                try:
                    status: int | None = http.request(
                        method, f"/orders/{n}", headers=headers, content=b"{}"
                    ).status_code
                except httpx.TransportError:
                    status = None
                with self.lock:
                    self.sent.append(Sent(started, method, status))

    def done(self) -> int:
        with self.lock:
            return len(self.sent)


def test_a_killed_replica_fails_at_most_its_requests_in_flight(
    replicas: list[AuthgateServer], nginx: int
) -> None:
    first, victim, _ = replicas
    token = str(client_token(first, machine(first, scope="orders:read"))["access_token"])
    stream = Stream(nginx, token)
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        clients = [pool.submit(stream.client) for _ in range(CONCURRENCY)]
        while stream.done() < KILL_AFTER and time.monotonic() < stream.until:
            time.sleep(0.01)
        assert victim.process is not None
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=30)
        killed_at = time.monotonic()
        for finished in clients:
            finished.result()
    served = [r for r in victim.access_records() if r.get("path", "").startswith("/orders/")]
    assert served, "the killed replica had served none of the stream"
    before = [s for s in stream.sent if s.started < killed_at]
    after = [s for s in stream.sent if s.started >= killed_at]
    assert len(stream.sent) == REQUESTS
    assert after, "the stream ended before the replica died"
    assert [s for s in after if s.status != 200] == []
    failed_before = [s for s in before if s.status != 200]
    assert len(failed_before) <= CONCURRENCY, failed_before
    assert all(s.status in (None, 502, 504) for s in failed_before), failed_before


def test_after_the_kill_every_new_request_is_served_by_the_others(
    replicas: list[AuthgateServer], nginx: int
) -> None:
    first, victim, _ = replicas
    assert victim.process is not None
    if victim.process.poll() is None:
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=30)
    token = str(client_token(first, machine(first, scope="orders:read"))["access_token"])
    with httpx.Client(base_url=f"http://127.0.0.1:{nginx}", timeout=30) as http:
        answers = [
            http.request(method, f"/orders/{n}", headers={"Authorization": f"Bearer {token}"})
            for n in range(30)
            for method in ("GET", "POST")
        ]
    assert [a.status_code for a in answers] == [200] * 60
