"""Successful logins per second through the HTTP API, against raw argon2id verifications.

Both figures come from the same run, alternating round by round so that drift in the
machine's load hits both alike, and both on the same pinned CPU (with two CPUs or more
and `taskset`, as bench/gateway_servers.py `Placement` does: the server and the baseline
on the last CPU, this process, which drives the HTTP load, on the others):

- the baseline: raw argon2id verifications/s of one hash with the server's default
  parameters (m=19456 KiB, t=2, p=1) through argon2-cffi, on 2 threads
  (`BASELINE_THREADS`, the issue's baseline) pinned to the server's CPU: as many
  verifications as that CPU can do with nothing else to do, which is what a login would
  cost if it cost only its deliberate hash. On one CPU two threads take turns and evict
  each other's 19 MiB from the caches, so the same on 1 thread is printed too (the server
  hashes on as many threads as it has CPUs: one when pinned), with its ratio;
- logins/s: `POST /v1/login` with a right password, to a real `authgate serve` pinned
  to that CPU, with a SQLite database, the default client and no MFA, each answered with
  its tokens (access, id, refresh).

The ratio (logins / verifications) is the figure to watch; it is also given per CPU-second
of the server process and of the baseline threads, which a busy machine skews less. The
load average is printed with the figures, since the machine may be shared.

Every loop is bounded in count and in time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import argon2
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.gateway_servers import Placement  # noqa: E402
from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer  # noqa: E402

PASSWORD = "lemon tree 4 harbour"
BASELINE_THREADS = 2
"""The issue's baseline: raw argon2id verifications/s on 2 threads."""
ONE_THREAD = 1


@dataclass(frozen=True)
class Sample:
    rate: float
    cpu: float
    """CPU-seconds per wall second of the measured side (server process, or baseline)."""

    @property
    def per_cpu(self) -> float:
        return self.rate / max(self.cpu, 1e-9)


def process_cpu(pid: int) -> float:
    """User + system CPU time of a process, all of its threads (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def argon2_verifications(
    seconds: float, max_count: int, where: Placement, threads: int = BASELINE_THREADS
) -> Sample:
    """Raw verifications on `threads` threads started on the server's CPU."""
    hasher = argon2.PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1)
    stored = hasher.hash(PASSWORD)
    per_thread = max_count // threads
    deadline = time.perf_counter() + seconds

    def work() -> tuple[int, float]:
        done = 0
        cpu = time.thread_time()
        while done < per_thread and time.perf_counter() < deadline:
            hasher.verify(stored, PASSWORD)
            done += 1
        return done, time.thread_time() - cpu

    start = time.perf_counter()
    # Threads inherit the CPU set of the thread that starts them: they start in here.
    with where.on_server_cpu(), ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda _: work(), range(threads)))
    elapsed = time.perf_counter() - start
    return Sample(
        sum(done for done, _ in results) / elapsed, sum(cpu for _, cpu in results) / elapsed
    )


async def logins(
    server: AuthgateServer, users: list[str], seconds: float, max_count: int, concurrency: int
) -> Sample:
    assert server.process is not None
    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=server.public, timeout=30) as client:

        async def worker(index: int) -> None:
            nonlocal done
            while done < max_count and time.perf_counter() < deadline:
                username = users[(index + done) % len(users)]
                answer = await client.post(
                    "/v1/login", json={"username": username, "password": PASSWORD}
                )
                if answer.status_code != 200 or "id_token" not in answer.json():
                    raise RuntimeError(f"login failed: {answer.status_code} {answer.text}")
                done += 1

        cpu = process_cpu(server.process.pid)
        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - start
        cpu = process_cpu(server.process.pid) - cpu
    return Sample(done / elapsed, cpu / elapsed)


def create_users(server: AuthgateServer, count: int) -> list[str]:
    names = []
    with server.admin_client() as admin:
        for i in range(count):
            email = f"bench-{i}@example.com"
            answer = admin.post("/admin/users", json={"email": email, "password": PASSWORD})
            answer.raise_for_status()
            names.append(email)
    return names


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="time bound per side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max", type=int, default=5000, help="count bound per phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    args = parser.parse_args()

    where = Placement.choose(pin=not args.no_pin)
    load_before = load_average()
    step = args.seconds / args.rounds
    rounds: list[tuple[Sample, Sample, Sample]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with where.on_server_cpu():
            server = AuthgateServer(
                workdir,
                f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
                {"throttle": {"login_failures": 1000}},
                PRODUCTION_ARGON2,
            ).start()
        try:
            users = create_users(server, args.users)
            # Warm up connections, caches and the hasher's threads.
            asyncio.run(logins(server, users, 2.0, 20, args.concurrency))
            for index in range(args.rounds):
                phases: dict[str, Callable[[], Sample]] = {
                    "two": lambda: argon2_verifications(step, args.max, where),
                    "one": lambda: argon2_verifications(step, args.max, where, ONE_THREAD),
                    "logins": lambda: asyncio.run(
                        logins(server, users, step, args.max, args.concurrency)
                    ),
                }
                names = list(phases)
                # Rotate who goes first, so drift in the machine's load hits all alike.
                order = names[index % 3 :] + names[: index % 3]
                got = {name: phases[name]() for name in order}
                rounds.append((got["two"], got["one"], got["logins"]))
        finally:
            server.stop()

    def median(values: Iterable[float]) -> float:
        return statistics.median(values)

    def ratio_line(label: str, which: int) -> str:
        ratios = sorted(r[2].rate / r[which].rate for r in rounds)
        per_cpu = median(r[2].per_cpu / r[which].per_cpu for r in rounds)
        return (
            f"{label:<28} {median(ratios):8.2f}  (median of {len(ratios)} rotating rounds; "
            f"min {ratios[0]:.2f}, max {ratios[-1]:.2f}; per CPU-second {per_cpu:.2f})"
        )

    def baseline_line(label: str, which: int, threads: int) -> str:
        return (
            f"{label:<28} {median(r[which].rate for r in rounds):8.1f}  (median; m=19456 KiB, "
            f"t=2, p=1; {threads} thread(s) on the server CPU, "
            f"{median(r[which].cpu for r in rounds):.2f} CPU)"
        )

    print(f"placement                    {where.describe()}")
    print(f"load average                 {load_before} before, {load_average()} after")
    print(baseline_line("raw argon2id verifications/s", 0, BASELINE_THREADS))
    print(baseline_line("  the same on 1 thread", 1, ONE_THREAD))
    print(
        f"HTTP logins/s                {median(r[2].rate for r in rounds):8.1f}  "
        f"(median; SQLite, {args.concurrency} clients; server "
        f"{median(r[2].cpu for r in rounds):.2f} CPU)"
    )
    print(ratio_line("ratio logins / argon2id", 0))
    print(ratio_line("  over the 1-thread baseline", 1))


if __name__ == "__main__":
    main()
