"""The processes bench/cluster.py measures, started on loopback ports and stopped after.

A throw-away PostgreSQL database (created on 127.0.0.1:5432 and dropped at the end, so
nobody else's data in the server is touched), three `authgate serve` replicas on it with
Redis (a key prefix of their own) and a fourth without Redis, the upstream (nginx
returning a static body), and one nginx holding the load-balancing fronts: over 1, 2 and
3 Redis replicas, and over the replica without Redis. Each front logs the replica that
answered each request, so the spread of the load can be checked.

Replica i is pinned to CPU i mod the CPU count (taskset semantics, through this process's
affinity, which a child inherits): one replica per core as far as cores go, the way
containers with a CPU limit of one would share a machine. nginx, the upstream and the load
generator are not pinned.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.gateway_servers import (  # noqa: E402
    UPSTREAM_SITE,
    Placement,
    Service,
    nginx_binary,
    start_nginx,
)
from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer, free_port  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "lemon tree 4 harbour"
GATE_PREFIX = "/bench"
GATE_PATH = GATE_PREFIX + "/hello"
RATE_LIMIT = {"key": "subject", "rate": "1000000/second"}
"""Never reached: it is there so that every gate request checks a budget (in Redis when
Redis is configured, in the process otherwise)."""
POOL_SIZE = 5
"""Database connections per replica: PostgreSQL is shared with others' tests."""


# --------------------------------------------------------------------------- PostgreSQL


async def _execute(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A database of our own in the shared server, dropped at the end; its SQLAlchemy URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --------------------------------------------------------------------------- authgate


@contextmanager
def on_cpu(cpu: int | None) -> Iterator[None]:
    """Processes started meanwhile inherit `cpu` as their only CPU (None: no pinning)."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def replica_settings(upstream: str, redis_prefix: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "database": {"pool_size": POOL_SIZE},
        "throttle": {"login_failures": 100000},
        "gateway": {
            "upstreams": {"app": {"targets": [upstream]}},
            "routes": [
                {
                    "name": "bench",
                    "path": GATE_PREFIX + "/**",
                    "upstream": "app",
                    "authenticate": ["jwt"],
                    "authorize": "allow",
                    "identity": {"headers": True, "jwt": False},
                    "rate_limit": RATE_LIMIT,
                }
            ],
        },
    }
    if redis_prefix is not None:
        settings["redis"] = {"url": REDIS_URL, "key_prefix": redis_prefix}
    return settings


def start_replica(
    workdir: Path,
    database_url: str,
    settings: dict[str, Any],
    cpu: int | None,
    first: AuthgateServer | None,
) -> AuthgateServer:
    """One replica; after the first, each shares its issuer, key-encryption key and admin
    token (the keys themselves are in the database)."""
    if first is not None:
        settings = {
            **settings,
            "issuer": first.public,
            "secrets": {"key_encryption_key": f"file:{first.data_dir / 'kek'}"},
            "admin": {"token": f"file:{first.data_dir / 'admin-token'}"},
        }
    with on_cpu(cpu):
        return AuthgateServer(workdir, database_url, settings, PRODUCTION_ARGON2).start()


# --------------------------------------------------------------------------- nginx fronts

LOG_FORMAT = "log_format bench_lb '$upstream_addr $status';\n"


def front_block(name: str, port: int, replicas: list[AuthgateServer], log: Path) -> str:
    servers = "".join(f"    server 127.0.0.1:{r.public_port};\n" for r in replicas)
    return (
        f"upstream {name} {{\n{servers}    keepalive 64;\n}}\n"
        "server {\n"
        f"    listen 127.0.0.1:{port};\n"
        f"    access_log {log} bench_lb buffer=64k flush=1s;\n"
        "    location / {\n"
        f"        proxy_pass http://{name};\n"
        "        proxy_http_version 1.1;\n"
        '        proxy_set_header Connection "";\n'
        "        proxy_set_header Host $host;\n"
        "        proxy_set_header X-Forwarded-For $remote_addr;\n"
        "    }\n"
        "}\n"
    )


@dataclass(frozen=True)
class Front:
    """A load-balancing front over some replicas, and the log of who answered."""

    key: str
    replicas: list[AuthgateServer]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spread(self) -> Counter[str]:
        """Answers per replica (by its port), from the front's log."""
        names = {f"127.0.0.1:{r.public_port}": f":{r.public_port}" for r in self.replicas}
        counts: Counter[str] = Counter({name: 0 for name in names.values()})
        if not self.log.exists():
            return counts
        for line in self.log.read_text().splitlines():
            address = line.split(" ", 1)[0]
            counts[names.get(address, address)] += 1
        return counts


@dataclass
class Cluster:
    with_redis: list[AuthgateServer]
    without_redis: AuthgateServer
    upstream: Service
    nginx: Service
    fronts: dict[str, Front] = field(default_factory=dict)

    def pids(self, front: Front) -> list[int]:
        """The processes a request through `front` runs on (PostgreSQL and Redis, shared
        with other users of the machine, are left out)."""
        found = [r.process.pid for r in front.replicas if r.process is not None]
        return [*found, self.nginx.process.pid, self.upstream.process.pid]


@contextmanager
def start_cluster(workdir: Path, database_url: str, replicas: int) -> Iterator[Cluster]:
    nginx = nginx_binary()
    if nginx is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    cpus = sorted(os.sched_getaffinity(0))
    floating = Placement(frozenset(cpus), frozenset(cpus), None)
    redis_prefix = f"authgate-bench:{os.getpid()}:{secrets.token_hex(3)}:"
    with ExitStack() as stack:
        port = free_port()
        site = UPSTREAM_SITE.replace("@PORT@", str(port))
        upstream = start_nginx(nginx, "upstream", site, port, workdir, floating)
        stack.callback(upstream.stop)
        started: list[AuthgateServer] = []
        for index in range(replicas + 1):
            redis = redis_prefix if index < replicas else None
            settings = replica_settings(upstream.url, redis)
            cpu = cpus[index % len(cpus)] if index < replicas else cpus[0]
            first = started[0] if started else None
            server = start_replica(workdir / f"replica-{index}", database_url, settings, cpu, first)
            stack.callback(server.stop)
            started.append(server)
        stack.callback(clear_redis, redis_prefix)
        with_redis, without_redis = started[:-1], started[-1]
        fronts = [
            (f"{n} replica{'s' if n > 1 else ''}", with_redis[:n]) for n in range(1, replicas + 1)
        ]
        fronts.append(("1 replica, no Redis", [without_redis]))
        sites, made = LOG_FORMAT, {}
        for index, (key, members) in enumerate(fronts):
            front = Front(key, members, free_port(), workdir / f"front-{index}.log")
            sites += front_block(f"replicas_{index}", front.port, members, front.log)
            made[key] = front
        lb_port = next(iter(made.values())).port
        balancer = start_nginx(nginx, "load balancer", sites, lb_port, workdir, floating)
        stack.callback(balancer.stop)
        cluster = Cluster(with_redis, without_redis, upstream, balancer, made)
        for front in made.values():
            answer = httpx.get(front.url + "/healthz", timeout=10)
            if answer.status_code != 200:
                raise RuntimeError(f"front {front.key} answered {answer.status_code}")
        yield cluster


def clear_redis(prefix: str) -> None:
    """Our keys only (they expire on their own too)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()
