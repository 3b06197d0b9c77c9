"""Image upload throughput through the gate, against the same upload straight to the service.

Two processes on the servers' CPU: `authgate serve` (SQLite) with the quickstart's
`/images/**` route, and examples/intake storing on the filesystem. The client (this process,
on the other CPUs when there are two, taskset as bench/gateway.py) streams the same number of
bytes in 1 MiB blocks, each round once through the gate (bearer access token, checked, an
identity JWT signed for the service, the body streamed through) and once straight to the
service (with an X-Authgate-Identity obtained from forward-auth beforehand), the order
rotating from round to round. It prints MB/s for each and the median of the per-round
ratios (aim >= 0.8).

The same rounds also upload through the two bare pass-through proxies of bench/gateway.py
(bench/passthrough.py: uvicorn + aiohttp's client, and aiohttp's server + client; no
authentication, nothing but relaying) in front of the same service: what copying every
byte through a Python process costs. The gate does not copy such an upload: it splices it
socket to socket (authgate.gateway.splice), so it can do better than they do.

On a shared, noisy machine the wall-clock ratio swings from round to round, so it also
prints the servers' CPU seconds per upload (from /proc, every server process together):
the servers share one CPU, so on a quiet machine the throughput ratio would be
the direct upload's CPU over the gated one's. That figure is derived, and said to be.

The body is not a tarball, so the background vetting refuses it at its first block, and each
image is deleted after its upload: what is measured is receiving and storing. Every loop is
bounded in count and time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.gateway_servers import Placement, Service, python_server  # noqa: E402
from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer, free_port  # noqa: E402
from tests.integration.intake_support import (  # noqa: E402
    IntakeService,
    bearer,
    intake_gateway,
    token_for,
)

AIM = 0.8
PASS_THROUGH = ("uvicorn", "aiohttp")
LABELS = {
    "gate": "through the gate",
    "direct": "straight to the service",
    "uvicorn": "bare proxy (uvicorn + aiohttp client)",
    "aiohttp": "bare proxy (aiohttp server + client)",
}
MIB = 1024 * 1024
BLOCK = bytes(range(256)) * 4096


def identity_for(gate: AuthgateServer, token: str) -> str:
    """The X-Authgate-Identity the gate would hand the service, asked from forward-auth."""
    described = {
        "X-Forwarded-Method": "POST",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "127.0.0.1",
        "X-Forwarded-Uri": "/images",
        **bearer(token),
    }
    answer = httpx.get(f"{gate.public}/_authgate/forward", headers=described, timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"forward-auth refused the bench token: {answer.text}")
    return answer.headers["x-authgate-identity"]


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def upload(base: str, headers: dict[str, str], mib: int, seed: int) -> float:
    """Seconds to upload `mib` MiB of fresh content and have it stored (then deleted)."""

    def body() -> Iterator[bytes]:
        yield seed.to_bytes(8, "big") + BLOCK[8:]
        for _ in range(mib - 1):
            yield BLOCK

    sent = {"Content-Type": "application/x-tar", "Content-Length": str(mib * MIB), **headers}
    with httpx.Client(base_url=base, timeout=300) as http:
        started = time.perf_counter()
        answer = http.post("/images", content=body(), headers=sent)
        elapsed = time.perf_counter() - started
        if answer.status_code != 201:
            raise RuntimeError(f"upload to {base} answered {answer.status_code}: {answer.text}")
        http.delete(f"/images/{answer.json()['id']}", headers=headers)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="size of one upload (MiB)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds (each: gate, direct, two bare proxies)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    args = parser.parse_args()
    placement = Placement.choose(pin=not args.no_pin)
    print(f"intake upload bench: {args.rounds} rounds of {args.mib} MiB; {placement.describe()}")
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as scratch:
        workdir = Path(scratch)
        port = free_port()
        gateway = {
            **intake_gateway(port),
            "trusted_proxies": ["127.0.0.1/32"],
            "access_log": False,
        }
        gate = AuthgateServer(
            workdir / "authgate",
            f"sqlite+aiosqlite:///{workdir / 'authgate.db'}",
            {"gateway": gateway, "logging": {"level": "warning"}},
            PRODUCTION_ARGON2,
        )
        quota = {"images": 1000, "bytes": "1000GiB"}
        intake = IntakeService(workdir / "intake", "", port=port, overrides={"quota": quota})
        with placement.on_server_cpu():
            gate.start()
            intake.issuer = gate.public
            intake.start()
        bare: list[Service] = []
        try:
            bare = [
                python_server(
                    "passthrough.py",
                    ["--stack", stack, "--upstream", intake.url],
                    stack,
                    workdir,
                    placement,
                )
                for stack in PASS_THROUGH
            ]
            token = token_for(gate)
            assert gate.process is not None
            servers = [gate.process.pid, intake.pid, *(proxy.process.pid for proxy in bare)]
            paths = ["gate", "direct", *PASS_THROUGH]
            mbs: dict[str, list[float]] = {path: [] for path in paths}
            cpu: dict[str, list[float]] = {path: [] for path in paths}
            ratios: dict[str, list[float]] = {path: [] for path in paths if path != "direct"}
            for round_no in range(args.rounds):
                identity = {"X-Authgate-Identity": identity_for(gate, token)}
                bases = {
                    "gate": (gate.public, bearer(token)),
                    "direct": (intake.url, identity),
                    **{proxy.kind: (proxy.url, identity) for proxy in bare},
                }
                order = paths[round_no % len(paths) :] + paths[: round_no % len(paths)]
                for n, path in enumerate(order):
                    base, headers = bases[path]
                    before = cpu_seconds(servers)
                    seconds = upload(base, headers, args.mib, round_no * len(paths) + n)
                    cpu[path].append(cpu_seconds(servers) - before)
                    mbs[path].append(args.mib * MIB / 1e6 / seconds)
                for path, kept in ratios.items():
                    kept.append(mbs[path][-1] / mbs["direct"][-1])
                print(
                    f"  round {round_no + 1}: "
                    + ", ".join(f"{LABELS[path]} {mbs[path][-1]:6.1f} MB/s" for path in paths)
                )
        finally:
            for proxy in bare:
                proxy.stop()
            intake.stop()
            gate.stop()
    print("medians of the rounds (MB/s; ratio to straight; servers' CPU s per upload):")
    direct_cpu = statistics.median(cpu["direct"])
    for path in paths:
        ratio = statistics.median(ratios[path]) if path in ratios else 1.0
        spent = statistics.median(cpu[path])
        print(
            f"  {LABELS[path]:<38} {statistics.median(mbs[path]):7.1f} MB/s"
            f"  ratio {ratio:.2f}  CPU {spent:.2f} s (derived ratio {direct_cpu / spent:.2f})"
        )
    ratio = statistics.median(ratios["gate"])
    verdict = "meets" if ratio >= AIM else "below"
    print(f"ratio gate/direct (median of rounds): {ratio:.2f} ({verdict} the aim of {AIM})")
    floor = max(statistics.median(ratios[stack]) for stack in PASS_THROUGH)
    print(f"best bare pass-through proxy/direct: {floor:.2f} (copying every byte through Python)")


if __name__ == "__main__":
    main()
