"""Mixed traffic against one `authgate serve` for a long while: does it leak or fail?

For `--duration` seconds (default 600) this sends, each at a steady rate of its own:
sign-ups, logins, refreshes (each refresh token used once, its successor kept), gate
requests (a JWT from a login or refresh, to a static nginx upstream) and policy decisions
(`POST /authz/allowed`, half allowed, half not). Every `--interval` seconds it prints the
server process's resident memory and open file descriptors (from /proc), the 5xx count so
far, and per kind the requests answered in that interval and their p99 latency. At the end:
RSS growth from the end of the warm-up (the first interval) to the end (aim: under 10 %),
file descriptors, and 5xx in total (aim: 0).

The load is paced, not a flood: it is meant to find leaks and errors over time, not the
ceiling (bench/login.py, bench/gateway.py and bench/cluster.py measure that). A kind whose
requests in flight reach `--max-in-flight` skips its turn (counted, printed) rather than
pile up. authgate and its upstream are pinned to one CPU and this process to the other
(taskset), when there are two. SQLite by default; `--postgres` uses a throw-away database
in the PostgreSQL on 127.0.0.1:5432, dropped at the end.

Every loop is bounded in count and in time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.cluster_servers import throwaway_database  # noqa: E402
from bench.gateway_servers import UPSTREAM_SITE, Placement, nginx_binary, start_nginx  # noqa: E402
from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer, free_port  # noqa: E402

PASSWORD = "lemon tree 4 harbour"
GATE_PATH = "/soak/hello"
RATES = {"signup": 0.5, "login": 2.0, "refresh": 4.0, "gate": 80.0, "decision": 40.0}
"""Requests per second per kind at --scale 1: well under what one core serves, with the
argon2id work of sign-ups and logins (one hash each) the largest share."""
EXPECTED = {"signup": 201, "login": 200, "refresh": 200, "gate": 200, "decision": 200}
RSS_AIM = 0.10
POLICIES = 50


@dataclass
class Stats:
    """What the traffic saw, per kind; latencies per interval, counts over the run."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    answered: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    all_p99: dict[str, list[float]] = field(default_factory=dict)

    def record(self, kind: str, seconds: float, status: int) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        self.answered[kind] += 1
        if status >= 500:
            self.server_errors[kind] += 1
        elif status != EXPECTED[kind]:
            self.unexpected[(kind, status)] += 1

    def take_interval(self) -> dict[str, list[float]]:
        taken, self.latencies = self.latencies, {}
        return taken


@dataclass
class Tokens:
    """What later requests need from earlier answers, bounded."""

    refresh: deque[str] = field(default_factory=lambda: deque(maxlen=500))
    access: deque[str] = field(default_factory=lambda: deque(maxlen=100))

    def keep(self, body: dict[str, Any]) -> None:
        self.refresh.append(str(body["refresh_token"]))
        self.access.append(str(body["access_token"]))


@dataclass
class Traffic:
    session: aiohttp.ClientSession
    base: str
    admin_token: str
    users: list[str]
    stats: Stats
    tokens: Tokens
    serial: Iterator[int] = field(default_factory=itertools.count)
    rng: random.Random = field(default_factory=lambda: random.Random(12))

    async def send(
        self, kind: str, method: str, path: str, body: Any = None, headers: Any = None
    ) -> dict[str, Any] | None:
        """One request, timed and recorded; the JSON body of an expected answer."""
        sent = time.perf_counter()
        try:
            async with self.session.request(
                method, self.base + path, json=body, headers=headers
            ) as answer:
                data = await answer.read()
                self.stats.record(kind, time.perf_counter() - sent, answer.status)
                if answer.status == EXPECTED[kind] and kind in ("login", "refresh"):
                    parsed: dict[str, Any] = json.loads(data)
                    return parsed
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.stats.failures[(kind, type(exc).__name__)] += 1
        return None

    async def signup(self) -> None:
        email = f"soak-{next(self.serial)}-{os.getpid()}@example.com"
        await self.send("signup", "POST", "/v1/signup", {"email": email, "password": PASSWORD})

    async def login(self) -> None:
        body = {"username": self.rng.choice(self.users), "password": PASSWORD}
        answer = await self.send("login", "POST", "/v1/login", body)
        if answer is not None:
            self.tokens.keep(answer)

    async def refresh(self) -> None:
        if not self.tokens.refresh:
            self.stats.skipped["refresh"] += 1
            return
        token = self.tokens.refresh.popleft()
        answer = await self.send("refresh", "POST", "/v1/token/refresh", {"refresh_token": token})
        if answer is not None:
            self.tokens.keep(answer)

    async def gate(self) -> None:
        if not self.tokens.access:
            self.stats.skipped["gate"] += 1
            return
        bearer = {"Authorization": f"Bearer {self.rng.choice(self.tokens.access)}"}
        await self.send("gate", "GET", GATE_PATH, headers=bearer)

    async def decision(self) -> None:
        i = self.rng.randrange(POLICIES)
        resource = f"doc:{i}" if self.rng.random() < 0.5 else f"doc:{i + 1000}"
        body = {"subject": f"user:{i}", "action": "read", "resource": resource}
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        await self.send("decision", "POST", "/authz/allowed", body, headers)


async def paced(
    kind: str,
    action: Callable[[], Coroutine[Any, Any, None]],
    rate: float,
    deadline: float,
    max_in_flight: int,
    stats: Stats,
) -> None:
    """`rate` requests a second until the deadline, at most rate x duration x 1.1 of them."""
    loop = asyncio.get_running_loop()
    interval = 1 / rate
    limit = int(rate * (deadline - loop.time()) * 1.1) + 10
    in_flight: set[asyncio.Task[None]] = set()
    next_at = loop.time()
    for _ in range(limit):
        if loop.time() >= deadline:
            break
        if len(in_flight) < max_in_flight:
            task = asyncio.create_task(action())
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        else:
            stats.skipped[kind] += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    if in_flight:
        await asyncio.wait(in_flight, timeout=60)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> tuple[int, int]:
    """Open file descriptors, and how many of them are sockets (connections come and go
    with the clients' keep-alive pools; a leak shows in the rest, or in sockets that
    outgrow the pools' bound)."""
    sockets = total = 0
    for entry in os.scandir(f"/proc/{pid}/fd"):
        total += 1
        try:
            sockets += os.readlink(entry.path).startswith("socket:")
        except OSError:
            continue  # closed while we looked
    return total, sockets


def p99_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


@dataclass
class Probe:
    at: float
    rss: int
    fds: int
    sockets: int

    @classmethod
    def take(cls, at: float, pid: int) -> Probe:
        return cls(at, rss_kib(pid), *open_fds(pid))


async def report_every(
    pid: int, stats: Stats, every: float, deadline: float, probes: list[Probe]
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    kinds = list(RATES)
    print(
        f"{'t s':>5} {'RSS MiB':>8} {'fds':>5} {'sock':>5} {'5xx':>5} "
        + " ".join(f"{k + ' n/p99ms':>18}" for k in kinds),
        flush=True,
    )
    for tick in range(1, int((deadline - started) / every) + 2):
        await asyncio.sleep(max(0.0, min(started + tick * every, deadline) - loop.time()))
        probe = Probe.take(loop.time() - started, pid)
        probes.append(probe)
        interval = stats.take_interval()
        cells = []
        for kind in kinds:
            values = interval.get(kind, [])
            p99 = p99_ms(values) if values else float("nan")
            stats.all_p99.setdefault(kind, []).append(p99)
            cells.append(f"{len(values):>8} / {p99:>7.1f}")
        print(
            f"{probe.at:5.0f} {probe.rss / 1024:8.1f} {probe.fds:5d} {probe.sockets:5d} "
            f"{sum(stats.server_errors.values()):5d} " + " ".join(f"{c:>18}" for c in cells),
            flush=True,
        )
        if loop.time() >= deadline:
            break


async def run_traffic(
    server: AuthgateServer, users: list[str], args: argparse.Namespace
) -> tuple[Stats, list[Probe]]:
    assert server.process is not None
    stats, tokens, probes = Stats(), Tokens(), []
    connector = aiohttp.TCPConnector(limit=args.max_in_flight * len(RATES))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        traffic = Traffic(session, server.public, server.admin_token, users, stats, tokens)
        for _ in users[:10]:  # tokens for the first refreshes and gate requests
            await traffic.login()
        stats.answered.clear()
        stats.take_interval()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.duration
        actions = {
            "signup": traffic.signup,
            "login": traffic.login,
            "refresh": traffic.refresh,
            "gate": traffic.gate,
            "decision": traffic.decision,
        }
        probes.append(Probe.take(0.0, server.process.pid))
        await asyncio.gather(
            report_every(server.process.pid, stats, args.interval, deadline, probes),
            *(
                paced(kind, actions[kind], rate * args.scale, deadline, args.max_in_flight, stats)
                for kind, rate in RATES.items()
            ),
        )
    return stats, probes


def settings(upstream: str) -> dict[str, Any]:
    return {
        "throttle": {"signup_per_ip": "1000000/hour", "login_failures": 100000},
        "gateway": {
            "upstreams": {"app": {"targets": [upstream]}},
            "routes": [
                {
                    "name": "soak",
                    "path": "/soak/**",
                    "upstream": "app",
                    "authenticate": ["jwt"],
                    "authorize": "allow",
                }
            ],
        },
    }


def prepare(server: AuthgateServer, count: int) -> list[str]:
    """Confirmed users to log in as, and policies for the decisions."""
    users = []
    with server.admin_client() as admin:
        for i in range(count):
            email = f"soak-user-{i}@example.com"
            made = admin.post("/admin/users", json={"email": email, "password": PASSWORD})
            made.raise_for_status()
            users.append(email)
        for i in range(POLICIES):
            policy = {
                "id": f"soak-{i}",
                "subjects": [f"user:{i}"],
                "actions": ["read"],
                "resources": [f"doc:{i}"],
                "effect": "allow",
            }
            admin.post("/admin/policies", json=policy).raise_for_status()
    check = httpx.post(
        server.public + "/v1/login", json={"username": users[0], "password": PASSWORD}
    )
    token = check.json()["access_token"]
    gated = httpx.get(server.public + GATE_PATH, headers={"Authorization": f"Bearer {token}"})
    refused = httpx.get(server.public + GATE_PATH)
    if gated.status_code != 200 or refused.status_code != 401:
        raise RuntimeError(f"the gate answered {gated.status_code} / {refused.status_code}")
    return users


@contextmanager
def database(workdir: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite+aiosqlite:///{workdir / 'soak.db'}"
        return
    with throwaway_database("authgate_soak") as url:
        yield url


def summary(stats: Stats, probes: list[Probe], args: argparse.Namespace) -> list[str]:
    warm, end = probes[min(1, len(probes) - 1)], probes[-1]
    growth = (end.rss - warm.rss) / max(1, warm.rss)
    peak = max(p.rss for p in probes)
    server_errors = sum(stats.server_errors.values())
    out = [
        "",
        f"RSS: {probes[0].rss / 1024:.1f} MiB at start of traffic, {warm.rss / 1024:.1f} MiB "
        f"after warm-up (t={warm.at:.0f} s), {end.rss / 1024:.1f} MiB at end (t={end.at:.0f} s), "
        f"peak {peak / 1024:.1f} MiB; growth after warm-up {growth:+.1%} "
        f"(aim < {RSS_AIM:.0%}: {'met' if growth < RSS_AIM else 'NOT met'})",
        f"open fds: {probes[0].fds} at start, {warm.fds} after warm-up, {end.fds} at end, "
        f"max {max(p.fds for p in probes)}; of them sockets {probes[0].sockets}, "
        f"{warm.sockets}, {end.sockets}, max {max(p.sockets for p in probes)}; not sockets "
        f"{probes[0].fds - probes[0].sockets}, {warm.fds - warm.sockets}, "
        f"{end.fds - end.sockets} (the client's pools allow {args.max_in_flight * len(RATES)} "
        "connections)",
        f"5xx: {server_errors} in total (aim 0: {'met' if server_errors == 0 else 'NOT met'})"
        + (f"; by kind {dict(stats.server_errors)}" if server_errors else ""),
        f"answered: {sum(stats.answered.values())} ("
        + ", ".join(f"{k} {stats.answered[k]}" for k in RATES)
        + ")",
        "p99 per interval, ms (first..last): "
        + "; ".join(
            f"{k} {min(seen):.1f}-{max(seen):.1f}"
            for k, v in stats.all_p99.items()
            if (seen := [p for p in v if not math.isnan(p)])
        ),
    ]
    if stats.unexpected:
        listed = ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(stats.unexpected.items()))
        out.append(f"other unexpected statuses: {listed}")
    if stats.failures:
        listed = ", ".join(f"{k} {e}: {n}" for (k, e), n in sorted(stats.failures.items()))
        out.append(f"transport failures (no answer): {listed}")
    if stats.skipped:
        out.append(
            f"turns skipped (in flight at --max-in-flight, or no token): {dict(stats.skipped)}"
        )
    return out


def error_lines(log: Path) -> int:
    """Lines the server logged at error level or above (its log is one JSON object a line)."""
    count = 0
    for line in log.read_text(errors="replace").splitlines():
        try:
            level = str(json.loads(line).get("level", "")).lower()
        except (ValueError, AttributeError):
            continue
        count += level in ("error", "critical")
    return count


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of traffic")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between reports")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every rate")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--max-in-flight", type=int, default=32, help="per kind")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    args = parser.parse_args()

    placement = Placement.choose(pin=not args.no_pin)
    nginx = nginx_binary()
    if nginx is None:
        raise SystemExit("nginx is not installed (apt-get install nginx): it is the upstream")
    uptime_before = uptime()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="authgate-soak-")))
        url = stack.enter_context(database(workdir, args.postgres))
        port = free_port()
        site = UPSTREAM_SITE.replace("@PORT@", str(port))
        upstream = start_nginx(nginx, "upstream", site, port, workdir, placement)
        stack.callback(upstream.stop)
        with placement.on_server_cpu():
            server = AuthgateServer(
                workdir / "authgate", url, settings(upstream.url), PRODUCTION_ARGON2
            ).start()
        stack.callback(server.stop)
        users = prepare(server, args.users)
        print(
            "\n".join(
                [
                    f"machine: {os.cpu_count()} CPUs; uptime at start: {uptime_before}",
                    f"placement: {placement.describe()}",
                    f"authgate pid {server.process.pid if server.process else '?'}, "
                    f"{'PostgreSQL (throw-away database)' if args.postgres else 'SQLite'}; "
                    f"{args.duration:.0f} s of traffic, reports every {args.interval:.0f} s",
                    "rates per second: "
                    + ", ".join(f"{k} {r * args.scale:g}" for k, r in RATES.items())
                    + f"; at most {args.max_in_flight} in flight per kind",
                    "",
                ]
            ),
            flush=True,
        )
        stats, probes = uvloop.run(run_traffic(server, users, args))
        server.stop()
        server_log_errors = error_lines(server.log)
    print("\n".join(summary(stats, probes, args)))
    print(f"error lines in the server's log: {server_log_errors}")
    print(f"uptime at end: {uptime()}")


if __name__ == "__main__":
    main()
