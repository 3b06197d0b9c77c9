"""Policy decisions per second and per-decision latency, indexed decider against a linear scan.

For 10, 1,000 and 10,000 generated policies (a seeded, realistic mix: literal and regex
subjects and resources, group subjects, client subjects, some conditions, some denies), the
same requests are decided by `Decider` and by a naive loop over every compiled policy in id
order, as Ladon does, in the same run. Both must give the same answer on every request
timed; the bench stops with an error if they ever differ. It prints decisions/s, p50 and p99
of single decisions, and the ratio. The aim: p99 under 100 µs at 10,000 policies.

At the largest size it then shows where the tail comes from: CPU time by request shape (how
many names a request goes by: its subject, a client, groups), and decisions with the
garbage collector on, as a server runs them, with the decider left in the collector's
generations (as every policy write left it when writes rebuilt the decider) and frozen
(`gc.freeze`, as start-up and a rebuild now leave it), with the collections seen and the
pause of one full collection. The process is pinned to one CPU; the load average is
printed, since other work on a shared machine inflates every figure.

Every loop is bounded in count and in time; nothing leaves the process.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from authgate.policy import (  # noqa: E402
    NO_MATCH,
    AccessDecision,
    AccessRequest,
    Decider,
    PolicyDocument,
    PolicyMatch,
    parse_document,
    subjects_for,
)
from authgate.policy.decider import CompiledPolicy  # noqa: E402

SERVICES = [f"svc{i}" for i in range(40)]
ACTIONS = ["read", "write", "delete", "list", "approve"]
GROUPS = [f"team-{i}" for i in range(30)]
CLIENTS = [f"client-{i}" for i in range(50)]
CONDITIONS: list[dict[str, Any]] = [
    {"remoteIP": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}}},
    {"region": {"type": "StringEqualCondition", "options": {"equals": "eu"}}},
    {"mfa": {"type": "BooleanCondition", "options": {"value": True}}},
    {"owner": {"type": "EqualsSubjectCondition", "options": {}}},
]


def user(rng: random.Random, users: int) -> str:
    return f"{rng.randrange(users):08x}-52b1-4900-91f7-514c4392d8c3"


def generate_policy(rng: random.Random, index: int, users: int) -> PolicyDocument:
    roll = rng.random()
    if roll < 0.50:
        subjects = [user(rng, users) for _ in range(rng.randint(1, 3))]
    elif roll < 0.75:
        subjects = [f"group:{rng.choice(GROUPS)}"]
    elif roll < 0.90:
        subjects = [rng.choice(CLIENTS)]
    elif roll < 0.98:
        subjects = [f"client-<{rng.randrange(10)}[0-9]*>"]
    else:
        subjects = ["<.*>"]
    actions = rng.sample(ACTIONS, rng.randint(1, 2)) if rng.random() < 0.95 else ["<read|list>"]
    service = rng.choice(SERVICES)
    shape = rng.random()
    if shape < 0.30:
        resources = [f"resources:{service}:{rng.randrange(10_000)}"]
    elif shape < 0.70:
        resources = [f"resources:{service}:<.*>"]
    elif shape < 0.95:
        resources = [f"resources:{service}:<[0-9]+>:items:<.*>"]
    else:
        resources = [f"resources:<{service}|{rng.choice(SERVICES)}>:<.*>"]
    return parse_document(
        {
            "id": f"policy-{index:06d}",
            "subjects": subjects,
            "actions": actions,
            "resources": resources,
            "effect": "deny" if rng.random() < 0.10 else "allow",
            "conditions": rng.choice(CONDITIONS) if rng.random() < 0.15 else {},
        }
    )


def generate_requests(rng: random.Random, count: int, users: int) -> list[AccessRequest]:
    requests = []
    for _ in range(count):
        sub = user(rng, users)
        client = rng.choice(CLIENTS) if rng.random() < 0.5 else None
        groups = rng.sample(GROUPS, rng.randint(0, 3))
        service = rng.choice(SERVICES)
        item = rng.randrange(10_000)
        resource = (
            f"resources:{service}:{item}"
            if rng.random() < 0.7
            else f"resources:{service}:{item}:items:{rng.randrange(100)}"
        )
        context = {"remoteIP": f"10.0.0.{rng.randrange(256)}", "region": "eu", "mfa": True}
        requests.append(
            AccessRequest(
                sub, subjects_for(sub, client, groups), rng.choice(ACTIONS), resource, context
            )
        )
    return requests


IN_FLIGHT = 2_000  # answers kept alive at a time when the collector is on


class LinearScan:
    """Ladon's loop: every policy, in id order, no index. The same compiled matching."""

    def __init__(self, documents: Sequence[PolicyDocument]) -> None:
        self.policies = [CompiledPolicy(doc) for doc in sorted(documents, key=lambda d: d.id)]

    def decide(self, request: AccessRequest) -> AccessDecision:
        names = request.subjects
        if request.subject not in names:
            names = (request.subject, *names)
        matches = []
        for policy in self.policies:
            if policy.matches(names, request.action, request.resource):
                matches.append(
                    PolicyMatch(policy.id, policy.effect, policy.conditions_hold(request))
                )
        denies = [m.policy_id for m in matches if m.conditions_held and m.effect == "deny"]
        allows = [m.policy_id for m in matches if m.conditions_held and m.effect == "allow"]
        if denies:
            return AccessDecision(False, denies[0], tuple(matches))
        if allows:
            return AccessDecision(True, allows[0], tuple(matches))
        return AccessDecision(False, NO_MATCH, tuple(matches))


@dataclass
class Timings:
    """Per-decision durations in µs: wall clock, and this thread's CPU time (which leaves
    out the time the OS gave the core to other processes, dominant on a shared machine)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    answers: list[AccessDecision] = field(default_factory=list)


def time_decisions(
    decide: Callable[[AccessRequest], AccessDecision],
    requests: Sequence[AccessRequest],
    seconds: float,
    max_count: int,
    collector: bool = False,
) -> Timings:
    """Decide requests in turn, timing each, until either bound is reached. The collector
    is off unless `collector`; then only the last answers are kept, as a server keeps what
    its requests in flight made for a while, so that some objects outlive a collection."""
    timings = Timings()
    recent: deque[AccessDecision] = deque(maxlen=IN_FLIGHT)
    wall_clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    deadline = time.perf_counter() + seconds
    if not collector:
        gc.disable()
    try:
        for count in range(max_count):
            if time.perf_counter() >= deadline:
                break
            request = requests[count % len(requests)]
            cpu_start, wall_start = cpu_clock(), wall_clock()
            answer = decide(request)
            wall_end, cpu_end = wall_clock(), cpu_clock()
            timings.wall.append((wall_end - wall_start) / 1000)
            timings.cpu.append((cpu_end - cpu_start) / 1000)
            if collector:
                recent.append(answer)
            else:
                timings.answers.append(answer)
    finally:
        gc.enable()
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--seconds", type=float, default=4.0, help="time bound per side")
    parser.add_argument("--max", type=int, default=50_000, help="decision bound per side")
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"pinned to CPU {cpus[-1]} of {len(cpus)}; load average {load}")

    print(
        "µs per decision: wall p50/p99 | CPU p50/p99 (this thread's CPU time, without the "
        "time other processes held the core)"
    )
    header = f"{'':>8} {'':>9}  {'indexed':^39}  {'linear scan':^39}"
    print(header)
    print(
        f"{'policies':>8} {'compile s':>9}  {'decisions/s':>11} {'wall p50':>8} {'p99':>6} "
        f"{'cpu p50':>7} {'p99':>6}  {'decisions/s':>11} {'wall p50':>8} {'p99':>6} "
        f"{'cpu p50':>7} {'p99':>6}  {'ratio':>6} {'allowed':>7}"
    )
    decider, requests = Decider.compile(()), []
    for size in (int(s) for s in args.sizes.split(",")):
        rng = random.Random(args.seed)
        users = max(10, size // 4)
        documents = [generate_policy(rng, i, users) for i in range(size)]
        requests = generate_requests(rng, args.requests, users)
        started = time.perf_counter()
        decider = Decider.compile(documents)
        compile_seconds = time.perf_counter() - started
        scan = LinearScan(documents)

        time_decisions(decider.decide, requests, 0.5, 2_000)  # warm up
        fast = time_decisions(decider.decide, requests, args.seconds, args.max)
        slow = time_decisions(scan.decide, requests, args.seconds, args.max)
        if fast.answers[: len(slow.answers)] != slow.answers:
            raise SystemExit(f"{size} policies: the decider and the linear scan disagree")

        fast_rate = len(fast.wall) / (sum(fast.wall) / 1e6)
        slow_rate = len(slow.wall) / (sum(slow.wall) / 1e6)
        allowed = sum(a.allowed for a in fast.answers) / len(fast.answers)
        print(
            f"{size:>8} {compile_seconds:>9.2f}  {summary(fast, fast_rate)}  "
            f"{summary(slow, slow_rate)}  {fast_rate / slow_rate:>6.1f} {allowed:>7.1%}"
        )
    print("ratio = indexed decisions/s over linear-scan decisions/s (wall clock, same requests)")
    shapes(decider, requests, fast)
    collector(decider, requests, args.seconds, args.max)


def shapes(decider: Decider, requests: Sequence[AccessRequest], timings: Timings) -> None:
    """CPU time per decision by how many names the request goes by (largest size)."""
    print(f"\nby request shape ({len(decider):,} policies; CPU µs per decision, collector off):")
    groups: dict[str, list[float]] = {}
    for position, cpu in enumerate(timings.cpu):
        request = requests[position % len(requests)]
        names = len({request.subject, *request.subjects})
        groups.setdefault(f"{names} name{'s' if names > 1 else ''}", []).append(cpu)
    everything = timings.cpu
    tail = percentile(everything, 0.99)
    for label, cpus in sorted(groups.items()):
        share = sum(cpu >= tail for cpu in cpus) / max(1, sum(cpu >= tail for cpu in everything))
        print(
            f"  {label:<8} {len(cpus) / len(everything):>6.1%} of requests  "
            f"p50 {statistics.median(cpus):>6.1f}  p99 {percentile(cpus, 0.99):>6.1f}  "
            f"{share:>6.1%} of the decisions above the overall p99 ({tail:.1f})"
        )


def collector(
    decider: Decider, requests: Sequence[AccessRequest], seconds: float, max_count: int
) -> None:
    """Decisions with the collector on: the decider in its generations, then frozen."""
    print(f"\ncollector on ({len(decider):,} policies; CPU µs per decision):")
    pauses: list[tuple[int, float]] = []
    started: list[float] = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            pauses.append((info["generation"], (time.thread_time() - started[0]) * 1000))

    gc.collect()
    cases = [("left in the collector's generations", False), ("frozen (gc.freeze)", True)]
    for label, frozen in cases:
        if frozen:
            gc.freeze()
        pauses.clear()
        gc.callbacks.append(watch)
        try:
            timings = time_decisions(decider.decide, requests, seconds, max_count, collector=True)
        finally:
            gc.callbacks.remove(watch)
        full = time.thread_time()
        gc.collect()
        full_ms = (time.thread_time() - full) * 1000
        cpu = timings.cpu
        oldest = [ms for generation, ms in pauses if generation == 2]
        print(
            f"  {label:<36} p50 {statistics.median(cpu):>5.1f}  p99 {percentile(cpu, 0.99):>6.1f}"
            f"  p99.9 {percentile(cpu, 0.999):>7.1f}  max {max(cpu):>8.1f}  "
            f"collections {len(pauses)} (full: {len(oldest)}, longest "
            f"{max(oldest, default=0):.1f} ms)  one full collection now: {full_ms:.1f} ms"
        )
    gc.unfreeze()


def summary(timings: Timings, rate: float) -> str:
    return (
        f"{rate:>11,.0f} {statistics.median(timings.wall):>8.1f} "
        f"{percentile(timings.wall, 0.99):>6.1f} {statistics.median(timings.cpu):>7.1f} "
        f"{percentile(timings.cpu, 0.99):>6.1f}"
    )


if __name__ == "__main__":
    main()
