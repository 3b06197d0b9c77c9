"""Load generators for bench/gateway.py (wrk when installed, else a Python one on aiohttp),
and the CPU time the servers spent meanwhile.

Both keep a fixed number of keep-alive connections busy with one request in flight each,
for a fixed time and at most a fixed count, and report requests/s with p50/p99 latency. One
failed answer (wrk: not 2xx/3xx; the Python one: not 200) fails the measurement: a rate of
errors is no figure.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import aiohttp
import uvloop
from bench.gateway_servers import Placement


class LoadError(RuntimeError):
    """The load generator saw failures, or could not run at all."""


@dataclass(frozen=True)
class Sample:
    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu: float = 0.0
    """Cores the servers kept busy meanwhile (1.00 = one core); 0 where not measured."""
    note: str = ""
    """Socket errors seen, if any: the rate counts completed requests only."""

    @property
    def per_cpu(self) -> float:
        """Requests per server CPU-second, which a busy machine skews less than the rate."""
        return self.rate / max(self.server_cpu, 1e-9)


class LoadGenerator(Protocol):
    def run(self, url: str, headers: dict[str, str], seconds: float, max_count: int) -> Sample:
        """Drive `url` for `seconds` (at most `max_count` requests, where supported)."""
        ...

    def describe(self) -> str: ...


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors:.*")


def parse_wrk(output: str) -> Sample:
    """Requests/s and p50/p99 from `wrk --latency` output; refuses runs with failures."""
    bad = NON_2XX.search(output)
    if bad:
        raise LoadError(f"{bad.group(1)} answers were not 2xx/3xx")
    rate = RATE.search(output)
    latencies = {q: float(v) * UNITS_MS[unit] for q, v, unit in LATENCY.findall(output)}
    if rate is None or set(latencies) != {"50", "99"}:
        raise LoadError(f"cannot read wrk's output:\n{output}")
    return Sample(float(rate.group(1)), latencies["50"], latencies["99"])


@dataclass(frozen=True)
class Wrk:
    binary: str
    connections: int
    placement: Placement

    def run(self, url: str, headers: dict[str, str], seconds: float, max_count: int) -> Sample:
        """wrk has no count bound: its duration is the bound, and it always stops."""
        command = [
            self.binary,
            "-t1",
            f"-c{self.connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            *(f"-H{name}: {value}" for name, value in headers.items()),
            url,
        ]
        done = subprocess.run(
            self.placement.client_command(command),
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        )
        if done.returncode != 0:
            raise LoadError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        sample = parse_wrk(done.stdout)
        errors = SOCKET_ERRORS.search(done.stdout)
        if errors and re.search(r"(connect|read|write|timeout) [1-9]", errors.group(0)):
            return replace(sample, note=errors.group(0).strip())
        return sample

    def describe(self) -> str:
        version = subprocess.run(
            [self.binary, "-v"], capture_output=True, text=True, check=False
        ).stdout.split("[")[0]
        return (
            f"{version.strip()}, 1 thread, {self.connections} keep-alive connections, "
            "latency from --latency"
        )


def cpu_seconds(roots: list[int]) -> float:
    """User + system CPU time of these processes and all their descendants (from /proc):
    nginx's workers are children of its master."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    ours = set(roots)
    grown = True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in ours} - ours
        grown = bool(found)
        ours |= found
    return sum(times.get(pid, 0.0) for pid in ours)


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _python_load(
    url: str, headers: dict[str, str], connections: int, seconds: float, max_count: int
) -> Sample:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            while len(latencies) < max_count and time.perf_counter() < deadline:
                sent = time.perf_counter()
                async with session.get(url, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 200:
                        raise LoadError(f"{url} answered {answer.status}")
                latencies.append(time.perf_counter() - sent)

        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(connections))), seconds + 30
        )
        elapsed = time.perf_counter() - start
    if not latencies:
        raise LoadError(f"no answer from {url}")
    ordered = sorted(latencies)
    return Sample(
        len(ordered) / elapsed, percentile(ordered, 0.5) * 1000, percentile(ordered, 0.99) * 1000
    )


@dataclass(frozen=True)
class PythonLoad:
    """aiohttp's client in this process (pinned to the load generator's CPU)."""

    connections: int

    def run(self, url: str, headers: dict[str, str], seconds: float, max_count: int) -> Sample:
        return uvloop.run(_python_load(url, headers, self.connections, seconds, max_count))

    def describe(self) -> str:
        return (
            f"Python (aiohttp {aiohttp.__version__} client on uvloop; wrk is not installed), "
            f"{self.connections} keep-alive connections; it saturates sooner than wrk, so "
            "high figures are capped by it"
        )


def load_generator(connections: int, placement: Placement, force_python: bool) -> LoadGenerator:
    binary = shutil.which("wrk")
    if binary is None or force_python:
        return PythonLoad(connections)
    return Wrk(binary, connections, placement)
