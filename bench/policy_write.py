"""What one policy write costs at 10,000 policies, against what compiling costs, in one run.

Baselines, measured first in the same process on the same pinned CPU: parsing and compiling
one policy into a one-policy decider, and compiling all of them (the seeded mix of
bench/policy.py). Then, against a real database (SQLite in a temporary directory, and a
temporary PostgreSQL database when one is reachable, as the tests find it):

  start     a new `PolicyCache` loading every stored policy into a ready decider;
  service   one write through the real `PolicyService` (create, replace, delete of one
            policy), which commits and brings this process's decider up to date;
  replica   a second `PolicyCache` on the same database noticing that write at its poll;
  http      the same writes through the real admin API of `authgate serve` on a loopback
            port (the server on one CPU, this process on the other), the database filled
            with the same policies before it starts.

A write's floor is its transaction: the bare store transaction (version bump, the row,
the audit row) is timed too. Each figure is the median of its repeats; the ratios are to
compiling one policy and to compiling all of them. The
machine's load average is printed beside them, since other work on a shared machine
inflates every figure here.

Every loop is bounded in count and in time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
from bench.policy import generate_policy  # noqa: E402

from authgate.audit import Caller, record  # noqa: E402
from authgate.policy import Decider, PolicyDocument, document_json, parse_document  # noqa: E402
from authgate.policy.service import PolicyCache, PolicyService  # noqa: E402
from authgate.store import Store  # noqa: E402
from authgate.store.migrate import upgrade  # noqa: E402

CALLER = Caller(ip="127.0.0.1", user_agent="bench")


def cpus() -> tuple[set[int], set[int]]:
    """(this process's CPU, the server's CPU): different ones when there are two."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return set(available), set(available)
    return {available[0]}, {available[-1]}


@contextmanager
def affinity(where: set[int]) -> Iterator[None]:
    """Run the block (and processes it starts, which inherit it) on `where`."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, where)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(action: Callable[[], object], repeats: int, seconds: float) -> list[float]:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    return samples


async def timed_async(
    action: Callable[[int], Awaitable[object]], repeats: int, seconds: float
) -> list[float]:
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    for index in range(repeats):
        started = time.perf_counter()
        await action(index)
        samples.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    return samples


def extra_policy(index: int) -> dict[str, Any]:
    """A policy to write: its id sorts in the middle of the generated ones."""
    return {
        "id": f"policy-005000-bench-{index}",
        "subjects": [f"group:team-{index % 30}", "client-<1[0-9]*>"],
        "actions": ["read", "list"],
        "resources": [f"resources:svc{index % 40}:<[0-9]+>:items:<.*>"],
        "effect": "allow" if index % 2 else "deny",
        "conditions": {"region": {"type": "StringEqualCondition", "options": {"equals": "eu"}}},
    }


async def fill(url: str, documents: list[PolicyDocument]) -> None:
    store = Store(url)
    try:
        await upgrade(store)
        async with store.transaction() as tx:
            await tx.policies.bump_version()
            await tx.policies.put_many([(d.id, document_json(d)) for d in documents], time.time())
    finally:
        await store.close()


async def in_process(url: str, repeats: int, seconds: float) -> dict[str, list[float]]:
    """Start, service writes and a replica's poll, against the filled database at `url`."""
    figures: dict[str, list[float]] = {"start": [], "replica": []}
    store = Store(url)
    try:
        for _ in range(max(1, repeats // 3)):
            cache = PolicyCache(store)
            started = time.perf_counter()
            await cache.refresh_if_changed()
            figures["start"].append(time.perf_counter() - started)
        service = PolicyService(store, cache)
        replica = PolicyCache(store)
        await replica.refresh_if_changed()

        async def create(index: int) -> None:
            await service.create(extra_policy(index), CALLER)

        async def replace(index: int) -> None:
            changed = {**extra_policy(index), "description": f"replaced {index}"}
            await service.replace(changed["id"], changed, CALLER)

        async def delete(index: int) -> None:
            await service.delete(str(extra_policy(index)["id"]), CALLER)

        async def bare(index: int) -> None:
            data = {**extra_policy(index), "id": f"bare-{index}"}
            async with store.transaction() as tx:
                await tx.policies.bump_version()
                await tx.policies.put(str(data["id"]), data, time.time())
                await record(tx, "admin_policy_created", CALLER, policy=data["id"])

        figures["transaction"] = await timed_async(bare, repeats, seconds)
        await replica.refresh_if_changed()
        await cache.refresh_if_changed()
        for name, action in (("create", create), ("replace", replace), ("delete", delete)):
            figures[name] = await timed_async(action, repeats, seconds)
            started = time.perf_counter()
            assert await replica.refresh_if_changed()
            figures["replica"].append(time.perf_counter() - started)
        if len(cache.decider) != len(replica.decider):
            raise SystemExit("the replica and the writer disagree on the number of policies")
    finally:
        await store.close()
    return figures


def over_http(workdir: Path, url: str, repeats: int, seconds: float) -> dict[str, list[float]]:
    from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer

    mine, theirs = cpus()
    with affinity(theirs):
        server = AuthgateServer(workdir / "server", url, argon2=PRODUCTION_ARGON2).start()
    figures: dict[str, list[float]] = {}
    try:
        with affinity(mine), server.admin_client() as admin:
            admin.get("/admin/policies/policy-000000").raise_for_status()  # warm
            counter = iter(range(10_000, 10_000 + 4 * repeats))

            def create() -> None:
                answer = admin.post("/admin/policies", json=extra_policy(next(counter)))
                assert answer.status_code == 201, answer.text

            figures["create"] = timed(create, repeats, seconds)
            made = [extra_policy(i)["id"] for i in range(10_000, 10_000 + len(figures["create"]))]
            replaced = iter(made)

            def replace() -> None:
                pid = next(replaced)
                body = {**extra_policy(0), "id": pid, "description": "replaced"}
                assert admin.put(f"/admin/policies/{pid}", json=body).status_code == 200

            figures["replace"] = timed(replace, len(made), seconds)
            deleted = iter(made)

            def delete() -> None:
                assert admin.delete(f"/admin/policies/{next(deleted)}").status_code == 204

            figures["delete"] = timed(delete, len(made), seconds)
    finally:
        server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=9, help="writes of each kind")
    parser.add_argument("--seconds", type=float, default=60.0, help="time bound per kind")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    mine, _ = cpus()
    os.sched_setaffinity(0, mine)
    rng = random.Random(args.seed)
    users = max(10, args.policies // 4)
    documents = [generate_policy(rng, i, users) for i in range(args.policies)]
    raw = [document_json(d) for d in documents]

    turn = iter(range(10**9))
    one = timed(lambda: Decider.compile([parse_document(raw[next(turn) % len(raw)])]), 200, 5.0)
    everything = timed(lambda: Decider.compile(documents), 3, 60.0)
    parse_all = timed(lambda: [parse_document(d) for d in raw], 3, 60.0)
    one_ms, all_ms = median_ms(one), median_ms(everything)

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"policy writes at {args.policies:,} policies (load average {load}; ", end="")
    print(f"this process on CPU {sorted(mine)}; medians)")
    print(f"  {'parse + compile one policy':<44} {one_ms:>9.3f} ms")
    print(f"  {f'compile {args.policies:,} parsed policies':<44} {all_ms:>9.1f} ms")
    print(f"  {f'parse {args.policies:,} documents':<44} {median_ms(parse_all):>9.1f} ms")

    for backend in args.backends.split(","):
        with (
            tempfile.TemporaryDirectory(prefix="authgate-policy-bench-") as tmp,
            database(backend, Path(tmp)) as url,
        ):
            if url is None:
                print(f"{backend}: not reachable, skipped")
                continue
            asyncio.run(fill(url, documents))
            local = asyncio.run(in_process(url, args.repeats, args.seconds))
            http = {}
            if not args.no_http:
                http = over_http(Path(tmp), url, args.repeats, args.seconds)
        report(backend, local, http, one_ms, all_ms)
    print("aims: a write <= 50 ms; start <= 1 s")


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str | None]:
    """A fresh database's URL (None when PostgreSQL cannot be reached), dropped after."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir}/authgate.db"
        return
    from tests.conftest import _create_database, _drop_database, postgres_base_url

    base = postgres_base_url()
    name = f"authgate_bench_{secrets.token_hex(4)}"
    try:
        asyncio.run(_create_database(base, name))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        yield None
        return
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_drop_database(base, name))


def report(
    backend: str,
    local: dict[str, list[float]],
    http: dict[str, list[float]],
    one_ms: float,
    all_ms: float,
) -> None:
    floor_ms = median_ms(local["transaction"])
    print(f"{backend}:")

    def row(label: str, samples: list[float]) -> None:
        if not samples:
            return
        ms = median_ms(samples)
        print(
            f"  {label:<44} {ms:>9.2f} ms   x{ms / one_ms:>8.1f} one policy   "
            f"{ms / all_ms:>6.3f} of compiling all   x{ms / floor_ms:>6.1f} the transaction   "
            f"(n={len(samples)}, max {max(samples) * 1000:.1f})"
        )

    row("store transaction alone (version, row, audit)", local["transaction"])
    row("start: load every policy into a decider", local["start"])
    for kind in ("create", "replace", "delete"):
        row(f"PolicyService.{kind}", local[kind])
    row("replica: a poll that finds one change", local["replica"])
    for kind in ("create", "replace", "delete"):
        row(f"HTTP admin API {kind}", http.get(kind, []))


if __name__ == "__main__":
    main()
