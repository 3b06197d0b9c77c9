"""Cognito InitiateAuth (USER_PASSWORD_AUTH) per second against authgate's own /v1/login.

The Cognito endpoint is an adapter over the very login `/v1/login` runs, so the ratio of
the two, measured in the same run against the same `authgate serve` (SQLite, loopback),
is the cost of the adapter: it should stay at or above 0.9. Where there are two CPUs or
more the server is pinned to one and this load generator to the others, so the two do not
take each other's time; the two kinds of sign-in alternate, round by round, so that drift
in the machine's load hits both alike.

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
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer  # noqa: E402

PASSWORD = "lemon tree 4 harbour"
CLIENT_ID = "default"
TARGET = "AWSCognitoIdentityProviderService.InitiateAuth"
COGNITO_HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET}

SignIn = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


async def cognito_sign_in(client: httpx.AsyncClient, username: str) -> httpx.Response:
    body = {
        "ClientId": CLIENT_ID,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": username, "PASSWORD": PASSWORD},
    }
    return await client.post("/cognito/", json=body, headers=COGNITO_HEADERS)


async def v1_sign_in(client: httpx.AsyncClient, username: str) -> httpx.Response:
    body = {"username": username, "password": PASSWORD, "client_id": CLIENT_ID}
    return await client.post("/v1/login", json=body)


async def per_second(
    server: AuthgateServer,
    sign_in: SignIn,
    users: list[str],
    seconds: float,
    max_count: int,
    concurrency: int,
) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=server.public, timeout=30) as client:

        async def worker(index: int) -> None:
            nonlocal done
            while done < max_count and time.perf_counter() < deadline:
                answer = await sign_in(client, users[(index + done) % len(users)])
                if answer.status_code != 200:
                    raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text}")
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


def pin(server: AuthgateServer) -> str:
    """The server's threads on the last CPU, this process on the others; what was done."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or server.process is None:
        return f"not pinned ({len(cpus)} CPU)"
    server_cpu, load_cpus = {cpus[-1]}, set(cpus[:-1])
    for task in os.listdir(f"/proc/{server.process.pid}/task"):
        os.sched_setaffinity(int(task), server_cpu)
    os.sched_setaffinity(0, load_cpus)
    return f"server on CPU {cpus[-1]}, load on {sorted(load_cpus)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="time bound per kind")
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
            PRODUCTION_ARGON2,
        ).start()
        try:
            users = create_users(server, args.users)
            # Warm up connections, caches and the hasher's threads, then pin them all.
            for sign_in in (v1_sign_in, cognito_sign_in):
                asyncio.run(per_second(server, sign_in, users, 2.0, 20, args.concurrency))
            placement = pin(server)
            step = args.seconds / args.rounds
            rounds = []
            for _ in range(args.rounds):
                v1 = asyncio.run(
                    per_second(server, v1_sign_in, users, step, args.max, args.concurrency)
                )
                cognito = asyncio.run(
                    per_second(server, cognito_sign_in, users, step, args.max, args.concurrency)
                )
                rounds.append((v1, cognito))
        finally:
            server.stop()

    ratios = sorted(c / v for v, c in rounds)
    print(f"placement                       {placement}")
    print(f"/v1/login/s                     {statistics.median(v for v, _ in rounds):8.1f}")
    print(f"InitiateAuth USER_PASSWORD/s    {statistics.median(c for _, c in rounds):8.1f}")
    print(
        f"ratio InitiateAuth / v1 login   {statistics.median(ratios):8.2f}  (median of "
        f"{len(ratios)} alternating rounds; min {ratios[0]:.2f}, max {ratios[-1]:.2f}; aim >= 0.9)"
    )


if __name__ == "__main__":
    main()
