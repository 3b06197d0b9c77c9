"""The gate's requests/s and latency, against the HTTP stack it is built on, in one run.

Cases, all on 127.0.0.1, each measured with the same load generator and connections:

  a   the upstream alone (nginx returning a small static body; a raw ASGI app on uvicorn
      when nginx is absent), the ceiling for everything below;
  b   a bare pass-through proxy on the gate's own stack (bench/passthrough.py: uvicorn with
      httptools and uvloop, aiohttp's client), no authentication: what any Python proxy on
      this stack costs; b' (aiohttp's server) and b'' (httpx's client) are the
      alternatives the issue names, measured so that the gate's choice is a measured one;
  c   `authgate serve` (SQLite) as the gate: bearer JWT, a scope check, identity headers
      and a signed identity JWT, proxied to the same upstream;
  d   authgate's forward-auth endpoint deciding the same request (no proxying);
  t   the trivial ASGI endpoint (bench/trivial_auth.py) asked directly: the floor of any
      Python HTTP endpoint, which d is compared with (aim d/t >= 0.5);
  c*, d*  diagnostic twins of c and d on a route without the identity JWT: what its
      signature costs (one per principal and upstream every 30 s, cached between);
  e   nginx `auth_request` in front of the upstream, configured by the shipped
      deploy/nginx/authgate.conf, asking authgate: with its 5-second decision cache (what
      users get) and without it; e0 is the same nginx asking a trivial Python endpoint
      (bench/trivial_auth.py), the price of nginx calling Python at all.

Before any case is timed, one request must succeed the way the case means it (the gate's
upstream must receive the identity headers; without the token the gate must refuse): a
benchmark of 401s would be a lie. The ratios to watch are c/b (aim >= 0.67) and e/e0 (aim
>= 0.67); each is the median of per-round ratios, the rounds alternating their order so
that drift in a busy machine's load hits both sides alike, and each is also given per
server CPU-second (from /proc), which other work on the machine skews less. Servers share
one CPU and the load generator has the other (taskset), when there are two.

Every loop is bounded in count and in time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.gateway_load import (  # noqa: E402
    LoadError,
    LoadGenerator,
    Sample,
    cpu_seconds,
    load_generator,
)
from bench.gateway_servers import (  # noqa: E402
    BENCH_PREFIX,
    ECHO_PATH,
    HELLO_PATH,
    PLAIN_PREFIX,
    Placement,
    Servers,
    start_servers,
)

AIM = 0.67
FORWARD_AUTH_AIM = 0.5
FULL = ("x-authgate-sub", "x-authgate-identity")
HEADERS_ONLY = ("x-authgate-sub",)


class BenchError(RuntimeError):
    """A case could not be measured honestly; the reason is printed instead of a figure."""


@dataclass(frozen=True)
class Case:
    """One row of the table: a URL, its headers, and what must hold before it is timed."""

    key: str
    label: str
    url: str
    headers: dict[str, str]
    check: Callable[[], None]


def echoed(text: str) -> dict[str, str]:
    """The `name=value` lines an echoing upstream answers with, empty values left out."""
    pairs = (line.partition("=") for line in text.splitlines())
    return {name.strip().lower(): value for name, _, value in pairs if value.strip()}


def check_passes(url: str, headers: dict[str, str]) -> None:
    answer = httpx.get(url, headers=headers, timeout=10)
    if answer.status_code != 200:
        raise BenchError(f"GET {url} answered {answer.status_code}: {answer.text[:200]}")


def check_gated(url: str, token: str, identity: tuple[str, ...]) -> None:
    """Through a gate, no token is refused, and the token passes with the identity headers."""
    refused = httpx.get(url, timeout=10)
    if refused.status_code != 401:
        raise BenchError(f"without a token {url} answered {refused.status_code}, not 401")
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code != 200:
        raise BenchError(f"with the token {url} answered {answer.status_code}: {answer.text[:200]}")
    missing = [name for name in identity if name not in echoed(answer.text)]
    if missing:
        raise BenchError(f"the upstream did not receive {', '.join(missing)} from {url}")


def check_forward_auth(url: str, headers: dict[str, str], identity: tuple[str, ...]) -> None:
    anonymous = {k: v for k, v in headers.items() if k != "Authorization"}
    refused = httpx.get(url, headers=anonymous, timeout=10)
    if refused.status_code != 401:
        raise BenchError(f"forward-auth without a token answered {refused.status_code}, not 401")
    answer = httpx.get(url, headers=headers, timeout=10)
    missing = [name for name in identity if not answer.headers.get(name)]
    if answer.status_code != 200 or missing:
        raise BenchError(f"forward-auth answered {answer.status_code} without {missing}")


def candidates(servers: Servers) -> tuple[list[Case], dict[str, str]]:
    """Every case the running servers allow, and why the others cannot run."""
    bearer = {"Authorization": f"Bearer {servers.token}"}
    found: list[Case] = []
    missing: dict[str, str] = {}
    up = servers.upstream
    url = up.url + HELLO_PATH
    found.append(Case("a", f"upstream direct ({up.kind})", url, {}, partial(check_passes, url, {})))
    trivial = servers.trivial or (up if up.kind.startswith("raw ASGI") else None)
    if trivial is not None:
        url = trivial.url + HELLO_PATH
        label = "trivial ASGI endpoint direct (uvicorn)"
        found.append(Case("t", label, url, {}, partial(check_passes, url, {})))
    for key, proxy in servers.proxies.items():
        url = proxy.url + HELLO_PATH
        found.append(Case(key, proxy.kind, url, {}, partial(check_passes, url, {})))
    if servers.authgate is None or not servers.token:
        for key in ("c", "c*", "d", "d*"):
            missing[key] = servers.authgate_problem
    else:
        gate = servers.authgate.public
        for key, prefix, label, identity in (
            ("c", BENCH_PREFIX, "authgate gate: jwt, scope, identity headers + JWT", FULL),
            ("c*", PLAIN_PREFIX, "  the same without the identity JWT", HEADERS_ONLY),
        ):
            url, echo = gate + prefix + "/hello", gate + prefix + "/echo"
            check = partial(check_gated, echo, servers.token, identity)
            found.append(Case(key, label, url, bearer, check))
        forward = gate + "/_authgate/forward"
        for key, prefix, label, identity in (
            ("d", BENCH_PREFIX, "authgate forward-auth decisions", FULL),
            ("d*", PLAIN_PREFIX, "  the same without the identity JWT", HEADERS_ONLY),
        ):
            describe = {"X-Original-Method": "GET", "X-Original-URI": prefix + "/hello", **bearer}
            check = partial(check_forward_auth, forward, describe, identity)
            found.append(Case(key, label, forward, describe, check))
    for front in servers.fronts:
        key = ("e" if front.decider == "authgate" else "e0") + ("" if front.cached else "-")
        label = f"nginx auth_request -> {front.decider}, cache {'on' if front.cached else 'off'}"
        if front.decider == "authgate":
            check = partial(check_gated, front.url + ECHO_PATH, servers.token, FULL)
        else:
            check = partial(check_passes, front.url + HELLO_PATH, bearer)
        found.append(Case(key, label, front.url + HELLO_PATH, bearer, check))
    if servers.nginx_problem:
        for key in ("e", "e-", "e0", "e0-"):
            missing[key] = servers.nginx_problem
    return found, missing


def prepare(servers: Servers) -> tuple[list[Case], dict[str, str]]:
    """The cases that pass their check, and why the others are left out."""
    cases, skipped = candidates(servers)
    passed = []
    for case in cases:
        try:
            case.check()
            passed.append(case)
        except (BenchError, httpx.HTTPError) as exc:
            skipped[case.key] = str(exc)
    return passed, skipped


@dataclass
class Results:
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def add(self, key: str, sample: Sample) -> None:
        self.samples.setdefault(key, []).append(sample)

    def median(self, key: str, attribute: str) -> float:
        return statistics.median(float(getattr(s, attribute)) for s in self.samples[key])

    def ratio(self, top: str, bottom: str) -> tuple[float, float, float, float] | None:
        """Median, min and max of per-round rate ratios (rounds pair up in time), and the
        median ratio of requests per server CPU-second."""
        if top not in self.samples or bottom not in self.samples:
            return None
        pairs = list(zip(self.samples[top], self.samples[bottom], strict=True))
        ratios = sorted(t.rate / b.rate for t, b in pairs)
        per_cpu = statistics.median(t.per_cpu / b.per_cpu for t, b in pairs)
        return statistics.median(ratios), ratios[0], ratios[-1], per_cpu


def timed(
    case: Case, generator: LoadGenerator, pids: list[int], seconds: float, cap: int
) -> Sample:
    """One measurement, with the CPU the servers spent on it."""
    cpu = cpu_seconds(pids)
    start = time.perf_counter()
    sample = generator.run(case.url, case.headers, seconds, cap)
    busy = (cpu_seconds(pids) - cpu) / (time.perf_counter() - start)
    return replace(sample, server_cpu=busy)


def measure(
    cases: list[Case], generator: LoadGenerator, pids: list[int], args: argparse.Namespace
) -> tuple[Results, int, dict[str, str]]:
    """Warm every case up, then run alternating rounds within the time budget. A case whose
    load run fails is dropped whole (its ratios pair rounds), with the reason."""
    results = Results()
    failed: dict[str, str] = {}
    started = time.monotonic()
    step = args.seconds / args.rounds
    rounds = 0
    for index in range(-1, args.rounds):  # round -1 is the warm-up, not recorded
        live = [c for c in cases if c.key not in failed]
        if rounds and time.monotonic() - started + len(live) * (step + 0.5) > args.budget:
            break
        for case in live if index % 2 == 0 else live[::-1]:
            try:
                if index < 0:
                    generator.run(case.url, case.headers, min(1.0, step), args.max)
                else:
                    results.add(case.key, timed(case, generator, pids, step, args.max))
            except LoadError as exc:
                failed[case.key] = f"failed under load: {exc}"
                results.samples.pop(case.key, None)
        rounds += index >= 0
    return results, rounds, failed


RATIOS = (
    ("c", "b", AIM, "the gate over a bare proxy on its own stack"),
    ("c", "a", None, "the gate over the upstream alone"),
    ("d", "t", FORWARD_AUTH_AIM, "forward-auth decisions over a trivial ASGI endpoint"),
    ("e", "e0", AIM, "nginx+authgate over nginx+trivial Python, decision cache on"),
    ("e-", "e0-", AIM, "the same, decision cache off"),
    ("c*", "b", None, "diagnostic: the gate without the identity JWT over b"),
    ("d*", "d", None, "diagnostic: forward-auth without the identity JWT over with it"),
    ("b'", "b", None, "alternative stack: aiohttp server over uvicorn (both aiohttp client)"),
    ("b''", "b", None, "alternative stack: httpx client over aiohttp client (both uvicorn)"),
)


def report(cases: list[Case], skipped: dict[str, str], results: Results, rounds: int) -> list[str]:
    columns = ("req/s", "p50 ms", "p99 ms", "CPU", "req/CPU-s")
    out = [f"  {'case':<57} " + " ".join(f"{c:>7}" for c in columns)]
    for case in cases:
        rate, cpu = results.median(case.key, "rate"), results.median(case.key, "server_cpu")
        p50, p99 = results.median(case.key, "p50_ms"), results.median(case.key, "p99_ms")
        per_cpu = results.median(case.key, "per_cpu")
        out.append(
            f"  {case.key:<4} {case.label:<52} {rate:>7.0f} {p50:>7.2f} {p99:>7.2f} "
            f"{cpu:>7.2f} {per_cpu:>7.0f}"
        )
    out.extend(f"  {key:<4} not measured: {reason}" for key, reason in skipped.items())
    for case in cases:
        notes = sorted({s.note for s in results.samples[case.key] if s.note})
        out.extend(f"  note: {case.key}: wrk saw {note}" for note in notes)
    out += ["", f"ratios: median of {rounds} per-round ratios [min-max]; per server CPU-second"]
    for top, bottom, aim, meaning in RATIOS:
        found = results.ratio(top, bottom)
        name = f"{top}/{bottom}"
        if found is None:
            out.append(f"  {name:<7} n/a   {meaning} (a side was not measured)")
            continue
        median, low, high, per_cpu = found
        verdict = "" if aim is None else f"; aim >= {aim}: {'met' if median >= aim else 'NOT met'}"
        out.append(
            f"  {name:<7} {median:4.2f} [{low:.2f}-{high:.2f}] per CPU {per_cpu:4.2f}  "
            f"{meaning}{verdict}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per case")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per case")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--max", type=int, default=2_000_000, help="requests bound per step")
    parser.add_argument(
        "--budget",
        type=float,
        default=150.0,
        help="seconds for warm-up and rounds; a round "
        "that would overrun it is not started (start-up adds about 15 s)",
    )
    parser.add_argument("--python-load", action="store_true", help="use the Python generator")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--no-nginx", action="store_true", help="run as if nginx were absent")
    parser.add_argument(
        "--cases",
        default="",
        help="comma-separated case keys to time (e.g. b,c,c*,d); default: every case",
    )
    parser.add_argument(
        "--signing-alg",
        choices=("RS256", "ES256", "EdDSA"),
        default="RS256",
        help="authgate's token and identity-JWT signing algorithm (its default: RS256)",
    )
    args = parser.parse_args()

    placement = Placement.choose(pin=not args.no_pin)
    generator = load_generator(args.connections, placement, force_python=args.python_load)
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="authgate-bench-") as tmp,
        start_servers(Path(tmp), placement, not args.no_nginx, args.signing_alg) as servers,
    ):
        cases, skipped = prepare(servers)
        if args.cases:
            wanted = set(args.cases.split(","))
            cases = [case for case in cases if case.key in wanted]
            skipped = {key: reason for key, reason in skipped.items() if key in wanted}
        results, rounds, failed = measure(cases, generator, servers.pids(), args)
        described = servers.describe()
    context = [
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}); load average {load_before:.2f} at "
        f"start, {os.getloadavg()[0]:.2f} at end (a load well above 0 means other work "
        "shared the CPUs: trust the same-run ratios and per-CPU figures over the rates)",
        f"placement: {placement.describe()}",
        f"load generator: {generator.describe()}",
        f"{rounds} alternating rounds of {args.seconds / args.rounds:.1f} s per case; medians",
        "CPU: cores the servers kept busy (1.00 = one core; they share one); req/CPU-s: "
        "requests per server CPU-second. On a busy machine a case with more server "
        "processes (nginx + authgate + upstream) wins a larger share of the contended CPU, "
        "so its rate flatters it: the per-CPU ratio is then the fairer one",
        *described,
        "for scale, issue 4's figures (one core, 64 connections, a quiet machine): nginx alone "
        "150k req/s; uvicorn + aiohttp pass-through 12k, aiohttp server + client 10k; nginx "
        "auth_request to a trivial Python endpoint 28k, 53k with the decision cached",
        "",
    ]
    measured = [case for case in cases if case.key not in failed]
    print("\n".join(context + report(measured, {**skipped, **failed}, results, rounds)))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
