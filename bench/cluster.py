"""Logins/s and gate requests/s with 1, 2 and 3 authgate replicas behind nginx, on
PostgreSQL + Redis, and what Redis costs a gate request, all in one run.

Set-up (bench/cluster_servers.py): a throw-away database in the PostgreSQL on
127.0.0.1:5432 (dropped at the end), Redis on 127.0.0.1:6379 under a key prefix of our own,
three replicas with Redis and one without, nginx load-balancing fronts over 1, 2 and 3 of
the Redis replicas and over the one without. Replica i is pinned to CPU i mod the CPU count;
nginx, the upstream, wrk, PostgreSQL and Redis float.

Cases, each driven by wrk through a front:
  gN   a JWT-authenticated gate request (bearer access token from a login, a route with a
       per-subject rate limit, so every request checks a budget in Redis) to a static nginx
       upstream, over N replicas;
  g1-  the same over the one replica without Redis (its budget is in the process);
  lN   POST /v1/login (argon2id-bound) over N replicas, 30 users in turn.

Rounds alternate their order so that drift in a shared machine's load hits every case
alike; each figure is the median of the rounds, each ratio the median of per-round ratios.
On a 2-core machine expect gains from 1 to 2 replicas and none past 2; the figures that
matter are the cost of Redis on a gate request (aim: under 10 %) and the spread of the
load: each replica must answer its share and spend its share of CPU (nothing serializes
on one of them).

Before a case is timed one request must succeed as the case means it (the gate refuses a
request without the token and passes the one with it; a login answers 200); one answer
that is not 2xx fails the case. Every loop is bounded in count and in time; traffic goes
to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.cluster_servers import (  # noqa: E402
    GATE_PATH,
    PASSWORD,
    Cluster,
    Front,
    start_cluster,
    throwaway_database,
)
from bench.gateway_load import LoadError, Sample, cpu_seconds, parse_wrk  # noqa: E402
from tests.integration.harness import AuthgateServer  # noqa: E402

REDIS_COST_AIM = 0.10
SPREAD_FLOOR = 0.5
"""A replica answering less than half its fair share of requests (or spending less than
half its fair share of CPU) counts as the load serializing elsewhere."""


class BenchError(RuntimeError):
    """A case could not be measured honestly."""


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    front: Front
    url: str
    connections: int
    headers: dict[str, str] = field(default_factory=dict)
    script: Path | None = None


@dataclass
class Measured:
    samples: list[Sample] = field(default_factory=list)
    replica_cpu: list[dict[int, float]] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(float(getattr(s, attribute)) for s in self.samples)


def wrk(case: Case, seconds: float) -> Sample:
    """One wrk run; its duration is the bound (wrk has no count bound, and always stops)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    command = [
        binary,
        "-t1",
        f"-c{case.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        *(f"-H{name}: {value}" for name, value in case.headers.items()),
        *(["-s", str(case.script)] if case.script else []),
        case.url,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if done.returncode != 0:
        raise LoadError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def login_script(workdir: Path, users: list[str]) -> Path:
    """wrk's Lua: POST /v1/login for each user in turn."""
    bodies = [json.dumps({"username": u, "password": PASSWORD}) for u in users]
    listed = ",\n".join(f"  [[{body}]]" for body in bodies)
    script = workdir / "login.lua"
    script.write_text(
        f"local bodies = {{\n{listed}\n}}\n"
        "local n = 0\n"
        'local headers = {["Content-Type"] = "application/json"}\n'
        "request = function()\n"
        "  n = n + 1\n"
        '  return wrk.format("POST", "/v1/login", headers, bodies[(n % #bodies) + 1])\n'
        "end\n"
    )
    return script


def create_users(server: AuthgateServer, count: int) -> list[str]:
    names = []
    with server.admin_client() as admin:
        for i in range(count):
            email = f"cluster-{i}@example.com"
            answer = admin.post("/admin/users", json={"email": email, "password": PASSWORD})
            answer.raise_for_status()
            names.append(email)
    return names


def login(url: str, username: str) -> str:
    answer = httpx.post(
        url + "/v1/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    if answer.status_code != 200:
        raise BenchError(f"login through {url} answered {answer.status_code}: {answer.text}")
    return str(answer.json()["access_token"])


def check_gate(case: Case) -> None:
    refused = httpx.get(case.url, timeout=10)
    if refused.status_code != 401:
        raise BenchError(f"{case.key}: without a token the gate answered {refused.status_code}")
    answer = httpx.get(case.url, headers=case.headers, timeout=10)
    if answer.status_code != 200 or "hello from the upstream" not in answer.text:
        raise BenchError(f"{case.key}: with the token: {answer.status_code} {answer.text[:200]}")


def redis_state(server: AuthgateServer) -> tuple[float, float] | None:
    """(authgate_redis_up, authgate_redis_failures_total) from the replica's /metrics;
    None when it has no Redis."""
    text = httpx.get(server.admin + "/metrics", timeout=10).text
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("authgate_redis_up", "authgate_redis_failures_total"):
            found[name] = float(value)
    if not found:
        return None
    return found["authgate_redis_up"], found["authgate_redis_failures_total"]


def redis_lines(cluster: Cluster, before: dict[int, tuple[float, float] | None]) -> list[str]:
    """Whether the Redis path was taken throughout: up, and no call failed (failed calls
    admit requests without Redis, which would flatter the with-Redis figures)."""
    out = []
    for server in [*cluster.with_redis, cluster.without_redis]:
        now = redis_state(server)
        was = before[server.public_port]
        if now is None or was is None:
            out.append(f"  :{server.public_port} no Redis configured (no authgate_redis_* series)")
            continue
        failed = now[1] - was[1]
        verdict = "Redis on every path" if now[0] == 1 and failed == 0 else "REDIS FAILED"
        out.append(
            f"  :{server.public_port} authgate_redis_up {now[0]:.0f}, calls failed during the "
            f"run {failed:.0f} -> {verdict}"
        )
    return out


def make_cases(cluster: Cluster, workdir: Path, args: argparse.Namespace) -> list[Case]:
    users = create_users(cluster.with_redis[0], args.users)
    script = login_script(workdir, users)
    token = login(cluster.with_redis[0].public, users[0])
    bearer = {"Authorization": f"Bearer {token}"}
    cases: list[Case] = []
    for front in cluster.fronts.values():
        n = len(front.replicas)
        key = f"g{n}" if front.replicas[0] in cluster.with_redis else "g1-"
        label = f"gate request, {front.key}"
        cases.append(Case(key, label, front, front.url + GATE_PATH, args.connections, bearer))
    for front in cluster.fronts.values():
        if front.replicas[0] in cluster.with_redis:
            n = len(front.replicas)
            label = f"login, {front.key}"
            cases.append(Case(f"l{n}", label, front, front.url, args.login_connections, {}, script))
    for case in cases:
        if case.script is None:
            check_gate(case)
        else:
            login(case.url, users[1])
    return cases


def timed(case: Case, cluster: Cluster, seconds: float) -> tuple[Sample, dict[int, float]]:
    """One wrk run, with the cores the case's processes kept busy and each replica's CPU."""
    pids = cluster.pids(case.front)
    replicas = {r.public_port: r.process.pid for r in case.front.replicas if r.process}
    before = cpu_seconds(pids), {port: cpu_seconds([pid]) for port, pid in replicas.items()}
    start = time.perf_counter()
    sample = wrk(case, seconds)
    elapsed = time.perf_counter() - start
    if sample.rate <= 0:
        raise LoadError("no request completed")
    busy = (cpu_seconds(pids) - before[0]) / elapsed
    each = {port: cpu_seconds([pid]) - before[1][port] for port, pid in replicas.items()}
    return Sample(sample.rate, sample.p50_ms, sample.p99_ms, busy), each


def measure(
    cases: list[Case], cluster: Cluster, args: argparse.Namespace
) -> tuple[dict[str, Measured], int, dict[str, str]]:
    results = {case.key: Measured() for case in cases}
    failed: dict[str, str] = {}
    step = args.seconds / args.rounds
    started = time.monotonic()
    rounds = 0
    for index in range(-1, args.rounds):  # round -1 warms up, not recorded
        live = [c for c in cases if c.key not in failed]
        if rounds and time.monotonic() - started + len(live) * (step + 1) > args.budget:
            break
        for case in live if index % 2 == 0 else live[::-1]:
            try:
                if index < 0:
                    wrk(case, min(2.0, step))
                    continue
                sample, each = timed(case, cluster, step)
                results[case.key].samples.append(sample)
                results[case.key].replica_cpu.append(each)
            except LoadError as exc:
                failed[case.key] = f"failed under load: {exc}"
        rounds += index >= 0
    for key in failed:
        results.pop(key, None)
    return results, rounds, failed


def ratio(results: dict[str, Measured], top: str, bottom: str) -> tuple[float, float, float, float]:
    """Median, min, max of per-round rate ratios; median ratio per case CPU-second."""
    pairs = list(zip(results[top].samples, results[bottom].samples, strict=True))
    ratios = sorted(t.rate / b.rate for t, b in pairs)
    per_cpu = statistics.median(t.per_cpu / b.per_cpu for t, b in pairs)
    return statistics.median(ratios), ratios[0], ratios[-1], per_cpu


def spread_lines(cases: list[Case], results: dict[str, Measured]) -> list[str]:
    """Per front: each replica's share of the answers (nginx's log) and of the replicas'
    CPU, and whether every replica carried at least SPREAD_FLOOR of its fair share."""
    out = [
        "spread over replicas (answers from nginx's log, warm-up included; CPU from /proc, "
        "timed runs); fair share = 1/N"
    ]
    for case in cases:
        n = len(case.front.replicas)
        if n < 2 or case.key not in results:
            continue
        answers = case.front.spread()
        cpu: dict[int, float] = {}
        for each in results[case.key].replica_cpu:
            for port, seconds in each.items():
                cpu[port] = cpu.get(port, 0.0) + seconds
        total_answers = max(1, sum(answers.values()))
        total_cpu = max(1e-9, sum(cpu.values()))
        shares = [
            (f":{port}", answers.get(f":{port}", 0) / total_answers, cpu[port] / total_cpu)
            for port in sorted(cpu)
        ]
        fair = 1 / n
        even = all(a >= SPREAD_FLOOR * fair and c >= SPREAD_FLOOR * fair for _, a, c in shares)
        listed = "  ".join(f"{name} {a:4.0%} req {c:4.0%} CPU" for name, a, c in shares)
        verdict = "even" if even else "UNEVEN: a replica carries much less than its share"
        out.append(f"  {case.key:<4} {listed}  -> {verdict}")
    return out


def no_verdict(rate: float, per_cpu: float) -> str:
    return ""


def redis_verdict(rate: float, per_cpu: float) -> str:
    """The cost in requests/s, and in requests per CPU-second of the replica, nginx and
    the upstream (Redis's own CPU not counted), which others' load skews less."""
    met = {True: "met", False: "NOT met"}
    return (
        f"; Redis costs {1 - rate:.1%} of the rate (aim < {REDIS_COST_AIM:.0%}: "
        f"{met[1 - rate < REDIS_COST_AIM]}), {1 - per_cpu:.1%} per CPU-second "
        f"({met[1 - per_cpu < REDIS_COST_AIM]})"
    )


def report(
    cases: list[Case], results: dict[str, Measured], rounds: int, failed: dict[str, str]
) -> list[str]:
    out = [f"  {'case':<42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU':>6} {'req/CPU-s':>9}"]
    for case in cases:
        if case.key not in results:
            continue
        m = results[case.key]
        out.append(
            f"  {case.key:<4} {case.label:<37} {m.median('rate'):8.1f} {m.median('p50_ms'):8.2f} "
            f"{m.median('p99_ms'):8.2f} {m.median('server_cpu'):6.2f} {m.median('per_cpu'):9.1f}"
        )
    out.extend(f"  {key:<4} not measured: {reason}" for key, reason in failed.items())
    out += ["", f"ratios: median of {rounds} per-round ratios [min-max]; per case CPU-second"]
    rows: list[tuple[str, str, str, Callable[[float, float], str]]] = [
        ("g2", "g1", "gate, 2 replicas over 1", no_verdict),
        ("g3", "g1", "gate, 3 replicas over 1", no_verdict),
        ("g3", "g2", "gate, 3 replicas over 2 (2 cores: expect ~1)", no_verdict),
        ("l2", "l1", "logins, 2 replicas over 1", no_verdict),
        ("l3", "l1", "logins, 3 replicas over 1", no_verdict),
        ("l3", "l2", "logins, 3 replicas over 2 (2 cores: expect ~1)", no_verdict),
        ("g1", "g1-", "gate with Redis over without (1 replica)", redis_verdict),
    ]
    for top, bottom, meaning, verdict in rows:
        name = f"{top}/{bottom}"
        if top not in results or bottom not in results:
            out.append(f"  {name:<7} n/a   {meaning} (a side was not measured)")
            continue
        median, low, high, per_cpu = ratio(results, top, bottom)
        out.append(
            f"  {name:<7} {median:4.2f} [{low:.2f}-{high:.2f}] per CPU {per_cpu:4.2f}  "
            f"{meaning}{verdict(median, per_cpu)}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=32.0, help="timed seconds per case")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per case")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64, help="gate connections")
    parser.add_argument("--login-connections", type=int, default=16)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument(
        "--cases", default="", help="comma-separated case keys to time (e.g. l1,l2); default all"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=330.0,
        help="seconds for warm-up and rounds; a round that would overrun it is not started "
        "(start-up adds about 30 s)",
    )
    args = parser.parse_args()

    load_before, uptime_before = os.getloadavg(), uptime()
    with (
        tempfile.TemporaryDirectory(prefix="authgate-cluster-") as tmp,
        throwaway_database("authgate_bench") as database_url,
        start_cluster(Path(tmp), database_url, args.replicas) as cluster,
    ):
        cases = make_cases(cluster, Path(tmp), args)
        if args.cases:
            cases = [case for case in cases if case.key in args.cases.split(",")]
        replicas = [*cluster.with_redis, cluster.without_redis]
        redis_before = {r.public_port: redis_state(r) for r in replicas}
        results, rounds, failed = measure(cases, cluster, args)
        redis = redis_lines(cluster, redis_before)
        time.sleep(2.5)  # nginx flushes its access logs every second
        spread = spread_lines(cases, results)
        pinned = [
            f":{r.public_port} CPU {sorted(os.sched_getaffinity(r.process.pid))}"
            for r in [*cluster.with_redis, cluster.without_redis]
            if r.process
        ]
    print(
        "\n".join(
            [
                f"machine: {os.cpu_count()} CPUs; load average {load_before[0]:.2f} at start, "
                f"{os.getloadavg()[0]:.2f} at end (others' work shares the CPUs: trust the "
                "same-run ratios over the rates)",
                f"uptime at start: {uptime_before}",
                f"uptime at end:   {uptime()}",
                f"replicas (Redis: the first {args.replicas}; the last without): "
                + ", ".join(pinned)
                + "; nginx (1 worker), upstream, wrk, PostgreSQL and Redis not pinned",
                f"load: wrk, 1 thread, {args.connections} connections (gate), "
                f"{args.login_connections} (logins); {rounds} alternating rounds of "
                f"{args.seconds / args.rounds:.1f} s per case; medians",
                "CPU: cores kept busy by the case's replicas, nginx and the upstream "
                "(PostgreSQL and Redis, shared, not counted)",
                "",
                *report(cases, results, rounds, failed),
                "",
                *spread,
                "",
                "Redis, per replica (from its /metrics):",
                *redis,
            ]
        )
    )


def uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


if __name__ == "__main__":
    main()
