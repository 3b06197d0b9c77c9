"""Successful logins per second through the HTTP API, against raw argon2id verifications.

Both figures come from the same run on the same machine: first the baseline (argon2id
verifications of one hash with the server's default parameters, on as many threads as
there are CPUs, which is what the server's hasher uses), then real logins against a real
`authgate serve` on a loopback port with a SQLite database. The ratio is the figure to
watch: a login should cost little more than its deliberate hash.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.harness import AuthgateServer  # noqa: E402

PASSWORD = "lemon tree 4 harbour"


def argon2_verifications_per_second(seconds: float, max_count: int) -> float:
    hasher = argon2.PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1)
    stored = hasher.hash(PASSWORD)
    workers = os.cpu_count() or 1
    deadline = time.perf_counter() + seconds
    per_worker = max_count // workers

    def work() -> int:
        done = 0
        while done < per_worker and time.perf_counter() < deadline:
            hasher.verify(stored, PASSWORD)
            done += 1
        return done

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(lambda _: work(), range(workers)))
    return total / (time.perf_counter() - start)


async def logins_per_second(
    server: AuthgateServer, users: list[str], seconds: float, max_count: int, concurrency: int
) -> float:
    done = 0
    failures = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=server.public, timeout=30) as client:

        async def worker(index: int) -> None:
            nonlocal done, failures
            while done < max_count and time.perf_counter() < deadline:
                username = users[(index + done) % len(users)]
                answer = await client.post(
                    "/v1/login", json={"username": username, "password": PASSWORD}
                )
                if answer.status_code != 200:
                    failures += 1
                    raise RuntimeError(f"login failed: {answer.status_code} {answer.text}")
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - start
    return done / elapsed


def create_users(server: AuthgateServer, count: int) -> list[str]:
    names = []
    with server.admin_client() as admin:
        for i in range(count):
            email = f"bench-{i}@example.com"
            answer = admin.post("/admin/users", json={"email": email, "password": PASSWORD})
            answer.raise_for_status()
            names.append(email)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="time bound per side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max", type=int, default=5000, help="count bound per phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = AuthgateServer(
            workdir,
            f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            {"throttle": {"login_failures": 1000}},
        ).start()
        try:
            users = create_users(server, args.users)
            # Warm up connections, caches and the hasher's threads.
            asyncio.run(logins_per_second(server, users, 2.0, 20, args.concurrency))
            rounds = []
            for _ in range(args.rounds):
                # Alternate the two so that drift in the machine's load hits both alike.
                step = args.seconds / args.rounds
                baseline = argon2_verifications_per_second(step, args.max)
                logins = asyncio.run(
                    logins_per_second(server, users, step, args.max, args.concurrency)
                )
                rounds.append((baseline, logins))
        finally:
            server.stop()

    baseline = statistics.median(b for b, _ in rounds)
    logins = statistics.median(n for _, n in rounds)
    ratios = sorted(n / b for b, n in rounds)
    print(f"cpus                         {os.cpu_count()}")
    print(f"raw argon2id verifications/s {baseline:8.1f}  (median; m=19456 KiB, t=2, p=1)")
    print(
        f"HTTP logins/s                {logins:8.1f}  (median; SQLite, {args.concurrency} clients)"
    )
    print(
        f"ratio logins / argon2id      {statistics.median(ratios):8.2f}  (median of {len(ratios)} "
        f"alternating rounds; min {ratios[0]:.2f}, max {ratios[-1]:.2f})"
    )


if __name__ == "__main__":
    main()
