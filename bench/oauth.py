"""Client-credentials grants and introspections per second, against their baselines.

Three kinds of figure, all from the same run on the same machine, for RS256 (RSA 2048,
authgate's default) and ES256 (P-256):

- grants/s through HTTP (POST /oauth2/token, client_secret_basic, JWT access tokens) over
  raw PyJWT signatures/s of an equivalent claim set with a key of the same type and size:
  a grant should cost little more than its signature;
- introspections/s (POST /oauth2/introspect of a valid token, client authenticated);
- the same over panva's oidc-provider (bench/peers/provider.mjs), driven by the same load
  generator with the same concurrency. oidc-provider refuses to introspect JWTs, so its
  introspection figure is for its opaque tokens; authgate's is printed for both kinds.

The machine is shared and noisy: each figure is the median of alternating rounds, and each
ratio is also given per server CPU-second, which a busy machine skews less. The load
generator (an asyncio protocol over raw keep-alive sockets, one request in flight per
connection) reports its own CPU share; it keeps many connections busy so that a server
does not idle while the generator waits for a CPU. With two or more CPUs the servers run
on the last one and the load generator on the others: every server figure is a one-core
figure, as oidc-provider's (one Node process) and authgate's (one event loop) are anyway.

Every loop is bounded in count and in time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlencode

import httpx
import jwt
import uvloop
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer, free_port  # noqa: E402

PEER_DIR = ROOT / "bench" / "peers"
SCOPE = "api:read"
JWT_RESOURCE = "urn:authgate-bench:jwt"
OPAQUE_RESOURCE = "urn:authgate-bench:opaque"
ALGORITHMS = ("RS256", "ES256")
KEY_NAMES = {"RS256": "RSA 2048", "ES256": "P-256"}
ACTIVE = re.compile(rb'"active"\s*:\s*true')
JWT_ACCESS_TOKEN = re.compile(rb'"access_token"\s*:\s*"eyJ')

# Published anchors quoted by issue 3.
KEYCLOAK_GRANTS_PER_VCPU = 120.0
HYDRA_GRANTS_2CPU = (412.0, 542.0)
HYDRA_INTROSPECTIONS = (8000.0, 22000.0)


# --------------------------------------------------------------------------- load generator


class BenchError(RuntimeError):
    """A server answered something other than a success: the figures would be meaningless."""


@dataclass(frozen=True)
class Target:
    """One request, sent over and over, and what a good answer's body must contain."""

    port: int
    request: bytes
    good: re.Pattern[bytes]


def http_request(port: int, path: str, form: dict[str, str], basic: tuple[str, str]) -> bytes:
    """A keep-alive HTTP/1.1 POST of a form, with client_secret_basic (RFC 6749 2.3.1)."""
    body = urlencode(form).encode()
    credentials = f"{quote(basic[0], safe='')}:{quote(basic[1], safe='')}".encode()
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Basic {base64.b64encode(credentials).decode()}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Run:
    """Shared bounds and counters of one measurement."""

    def __init__(self, target: Target, connections: int, seconds: float, max_count: int) -> None:
        self.target = target
        self.max_count = max_count
        self.seconds = seconds
        self.deadline = 0.0
        self.sent = 0
        self.done = 0
        self.open = connections
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def may_send(self) -> bool:
        return self.sent < self.max_count and time.perf_counter() < self.deadline

    def fail(self, error: Exception) -> None:
        if not self.finished.done():
            self.finished.set_exception(error)

    def closed(self) -> None:
        self.open -= 1
        if self.open == 0 and not self.finished.done():
            self.finished.set_result(None)


class _Connection(asyncio.Protocol):
    """One keep-alive connection with one request in flight: parse, check, send again."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._buffer = bytearray()
        self._need = -1
        self._status = 0
        self._closing = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def start(self) -> None:
        if self._run.may_send():
            self._send()
        else:
            self._close()

    def _send(self) -> None:
        assert self._transport is not None
        self._run.sent += 1
        self._transport.write(self._run.target.request)

    def _close(self) -> None:
        if not self._closing:
            self._closing = True
            assert self._transport is not None
            self._transport.close()
            self._run.closed()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closing:
            self._run.fail(BenchError(f"the server closed a connection: {exc}"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if self._need < 0:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self._buffer[:end]).lower()
                del self._buffer[: end + 4]
                self._status = int(head[9:12])
                start = head.find(b"\r\ncontent-length:")
                if start < 0:
                    self._run.fail(BenchError("answer without Content-Length: " + head.decode()))
                    return
                stop = head.find(b"\r\n", start + 2)
                self._need = int(head[start + 17 : stop if stop > 0 else len(head)])
            if len(self._buffer) < self._need:
                return
            body = bytes(self._buffer[: self._need])
            del self._buffer[: self._need]
            self._need = -1
            if self._status != 200 or not self._run.target.good.search(body):
                self._run.fail(BenchError(f"bad answer {self._status}: {body[:300]!r}"))
                self._close()
                return
            self._run.done += 1
            if self._run.may_send():
                self._send()
            else:
                self._close()
                return


@dataclass(frozen=True)
class Sample:
    """One measurement: answers per second and CPU cores busy on each side."""

    rate: float
    client_cpu: float
    server_cpu: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all of its threads (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(target: Target, connections: int, seconds: float, max_count: int) -> int:
    run = _Run(target, connections, seconds, max_count)
    loop = asyncio.get_running_loop()
    opened = [
        await loop.create_connection(lambda: _Connection(run), "127.0.0.1", target.port)
        for _ in range(connections)
    ]
    run.deadline = time.perf_counter() + seconds
    for _, protocol in opened:
        protocol.start()
    try:
        await asyncio.wait_for(run.finished, timeout=seconds + 30)
    finally:
        for transport, _ in opened:
            transport.close()
    return run.done


def measure(
    target: Target, server_pid: int, connections: int, seconds: float, max_count: int
) -> Sample:
    """Drive `target` for at most `seconds` and `max_count` requests."""
    cpu_server = cpu_seconds(server_pid)
    cpu_client = time.process_time()
    start = time.perf_counter()
    done = uvloop.run(_drive(target, connections, seconds, max_count))
    elapsed = time.perf_counter() - start
    return Sample(
        rate=done / elapsed,
        client_cpu=(time.process_time() - cpu_client) / elapsed,
        server_cpu=(cpu_seconds(server_pid) - cpu_server) / elapsed,
    )


# --------------------------------------------------------------------------- baseline


def new_private_key(alg: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """A key of the same type and size as the servers' (authgate: tokens/keys.py)."""
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def signs_per_second(alg: str, seconds: float, max_count: int) -> Sample:
    """Raw PyJWT signatures of an RFC 9068 client-credentials claim set, on one thread."""
    key = new_private_key(alg)
    headers = {"kid": "bench-kid-0123456789abcdef0123456789abcdef01234", "typ": "at+jwt"}
    client_id = secrets.token_hex(13)
    done = 0
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while done < max_count and time.perf_counter() < deadline:
        now = int(time.time())
        claims = {
            "iss": "http://127.0.0.1:65535",
            "sub": client_id,
            "aud": [JWT_RESOURCE],
            "client_id": client_id,
            "scope": SCOPE,
            "token_use": "access",
            "iat": now,
            "exp": now + 3600,
            "jti": secrets.token_urlsafe(16),
        }
        jwt.encode(claims, key, algorithm=alg, headers=headers)
        done += 1
    elapsed = time.perf_counter() - start
    cpu_share = (time.process_time() - cpu) / elapsed
    return Sample(rate=done / elapsed, client_cpu=0.0, server_cpu=cpu_share)


# --------------------------------------------------------------------------- the two servers


@dataclass
class Side:
    """A running server with its requests: grant, and introspection of JWT / opaque tokens."""

    name: str
    pid: int
    grant: Target
    introspect_jwt: Target | None
    introspect_opaque: Target | None
    notes: list[str] = field(default_factory=list)


def jwt_header(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return decoded


def fetch_token(port: int, path: str, basic: tuple[str, str], form: dict[str, str]) -> str:
    answer = httpx.post(f"http://127.0.0.1:{port}{path}", data=form, auth=basic, timeout=30)
    if answer.status_code != 200:
        raise BenchError(f"grant at {path} failed: {answer.status_code} {answer.text}")
    token = answer.json().get("access_token")
    if not isinstance(token, str):
        raise BenchError(f"grant at {path} returned no access_token: {answer.text}")
    return token


def check_introspection(port: int, path: str, basic: tuple[str, str], token: str) -> None:
    answer = httpx.post(
        f"http://127.0.0.1:{port}{path}", data={"token": token}, auth=basic, timeout=30
    )
    if answer.status_code != 200 or answer.json().get("active") is not True:
        raise BenchError(f"introspection at {path} failed: {answer.status_code} {answer.text}")


def grant_form() -> dict[str, str]:
    return {"grant_type": "client_credentials", "scope": SCOPE}


def introspect_form(token: str) -> dict[str, str]:
    return {"token": token, "token_type_hint": "access_token"}


def authgate_side(server: AuthgateServer, alg: str) -> Side:
    """Register bench clients through the admin API and check one grant and introspection."""
    port = server.public_port
    token_path, introspect_path = "/oauth2/token", "/oauth2/introspect"
    metadata = {
        "client_name": "bench",
        "grant_types": ["client_credentials"],
        "scope": SCOPE,
        "token_endpoint_auth_method": "client_secret_basic",
        "audience": [JWT_RESOURCE],
    }
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=metadata)
        if created.status_code != 201:
            raise BenchError(f"cannot create the bench client: {created.text}")
        basic = (created.json()["client_id"], created.json()["client_secret"])
        opaque = admin.post(
            "/admin/clients", json={**metadata, "access_token_format": "opaque"}
        ).json()
    token = fetch_token(port, token_path, basic, grant_form())
    header = jwt_header(token)
    if header.get("alg") != alg:
        raise BenchError(f"authgate signed with {header.get('alg')}, not {alg}")
    check_introspection(port, introspect_path, basic, token)
    side = Side(
        name="authgate",
        pid=server.process.pid if server.process else 0,
        grant=Target(port, http_request(port, token_path, grant_form(), basic), JWT_ACCESS_TOKEN),
        introspect_jwt=Target(
            port, http_request(port, introspect_path, introspect_form(token), basic), ACTIVE
        ),
        introspect_opaque=None,
    )
    try:
        opaque_basic = (opaque["client_id"], opaque["client_secret"])
        opaque_token = fetch_token(port, token_path, opaque_basic, grant_form())
        if opaque_token.count(".") == 2:
            raise BenchError("the opaque client received a JWT")
        check_introspection(port, introspect_path, opaque_basic, opaque_token)
        request = http_request(port, introspect_path, introspect_form(opaque_token), opaque_basic)
        side.introspect_opaque = Target(port, request, ACTIVE)
    except (BenchError, KeyError) as exc:
        side.notes.append(f"authgate opaque-token introspection not measured: {exc}")
    return side


@dataclass
class Peer:
    """oidc-provider on a loopback port, started by `node bench/peers/provider.mjs`."""

    workdir: Path
    alg: str
    port: int = field(default_factory=free_port)
    client: tuple[str, str] = field(default_factory=lambda: ("bench", secrets.token_urlsafe(32)))
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Peer:
        node = shutil.which("node")
        if node is None:
            raise BenchError("node is not installed: the peer cannot run")
        if not (PEER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise BenchError("the peer's packages are missing: run `npm ci --prefix bench/peers`")
        log = self.workdir / f"peer-{self.alg}.log"
        env = {
            **os.environ,
            "NODE_ENV": "production",
            "PEER_PORT": str(self.port),
            "PEER_ALG": self.alg,
            "PEER_CLIENT_ID": self.client[0],
            "PEER_CLIENT_SECRET": self.client[1],
            "PEER_SCOPE": SCOPE,
            "PEER_JWT_RESOURCE": JWT_RESOURCE,
            "PEER_OPAQUE_RESOURCE": OPAQUE_RESOURCE,
        }
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [node, str(PEER_DIR / "provider.mjs")],
                cwd=PEER_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the peer exited at start:\n{log.read_text()}")
            if "ready " in log.read_text():
                return self
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"the peer did not start in time:\n{log.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def side(self) -> Side:
        base = f"http://127.0.0.1:{self.port}"
        metadata = httpx.get(f"{base}/.well-known/openid-configuration", timeout=30).json()
        token_path = httpx.URL(metadata["token_endpoint"]).path
        introspect_path = httpx.URL(metadata["introspection_endpoint"]).path
        token = fetch_token(self.port, token_path, self.client, grant_form())
        if jwt_header(token).get("alg") != self.alg:
            raise BenchError(f"oidc-provider signed with {jwt_header(token).get('alg')}")
        opaque = fetch_token(
            self.port, token_path, self.client, {**grant_form(), "resource": OPAQUE_RESOURCE}
        )
        check_introspection(self.port, introspect_path, self.client, opaque)
        request = http_request(self.port, introspect_path, introspect_form(opaque), self.client)
        assert self.process is not None
        return Side(
            name="oidc-provider",
            pid=self.process.pid,
            grant=Target(
                self.port,
                http_request(self.port, token_path, grant_form(), self.client),
                JWT_ACCESS_TOKEN,
            ),
            introspect_jwt=None,
            introspect_opaque=Target(self.port, request, ACTIVE),
        )


# --------------------------------------------------------------------------- CPU placement


@dataclass(frozen=True)
class Placement:
    """Servers on one CPU, the load generator on the rest, when there are CPUs enough."""

    server: set[int]
    client: set[int]

    @property
    def pinned(self) -> bool:
        return bool(self.server) and self.server != self.client

    @contextmanager
    def on_server_cpu(self) -> Iterator[None]:
        """Run the block (and processes it starts, which inherit it) on the servers' CPU."""
        if not self.pinned:
            yield
            return
        os.sched_setaffinity(0, self.server)
        try:
            yield
        finally:
            os.sched_setaffinity(0, self.client)


def placement(pin: bool) -> Placement:
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return Placement(set(cpus), set(cpus))
    return Placement({cpus[-1]}, set(cpus[:-1]))


# --------------------------------------------------------------------------- the run


@dataclass
class Figures:
    """Samples per measurement name, one per round."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def add(self, name: str, sample: Sample) -> None:
        self.samples.setdefault(name, []).append(sample)

    def has(self, name: str) -> bool:
        return name in self.samples

    def rate(self, name: str) -> float:
        return statistics.median(s.rate for s in self.samples[name])

    def client_cpu(self, name: str) -> float:
        return statistics.median(s.client_cpu for s in self.samples[name])

    def server_cpu(self, name: str) -> float:
        return statistics.median(s.server_cpu for s in self.samples[name])

    def per_cpu(self, name: str) -> float:
        """Answers per CPU-second of the server (median over rounds)."""
        return statistics.median(s.rate / max(s.server_cpu, 1e-9) for s in self.samples[name])

    def ratio(self, top: str, bottom: str) -> tuple[float, float, float, float]:
        """Median, min and max of the per-round ratio top/bottom (rounds pair up in time),
        and the median ratio of answers per server CPU-second, which a busy machine skews
        less: a server that waits for a CPU does not burn it."""
        pairs = list(zip(self.samples[top], self.samples[bottom], strict=True))
        ratios = sorted(t.rate / b.rate for t, b in pairs)
        per_cpu = statistics.median(
            (t.rate / max(t.server_cpu, 1e-9)) / (b.rate / max(b.server_cpu, 1e-9))
            for t, b in pairs
        )
        return statistics.median(ratios), ratios[0], ratios[-1], per_cpu


def run_algorithm(
    alg: str, workdir: Path, where: Placement, args: argparse.Namespace, notes: list[str]
) -> Figures:
    figures = Figures()
    with where.on_server_cpu():
        server = AuthgateServer(
            workdir / f"authgate-{alg}",
            f"sqlite+aiosqlite:///{workdir / f'authgate-{alg}.db'}",
            {"oauth": {"scopes": {SCOPE: "Read the bench API"}}, "tokens": {"signing_alg": alg}},
            PRODUCTION_ARGON2,
        ).start()
        peer: Peer | None = None
    try:
        ours = authgate_side(server, alg)
        notes.extend(ours.notes)
        sides = [ours]
        if not args.no_peer:
            with where.on_server_cpu():
                peer = Peer(workdir, alg).start()
            sides.append(peer.side())

        def phases(side: Side) -> list[tuple[str, Target]]:
            found = [(f"{side.name} grants", side.grant)]
            if side.introspect_jwt is not None:
                found.append((f"{side.name} introspect jwt", side.introspect_jwt))
            if side.introspect_opaque is not None:
                found.append((f"{side.name} introspect opaque", side.introspect_opaque))
            return found

        step = args.seconds / args.rounds
        for side in sides:  # warm up: connections, caches, JIT
            for _, target in phases(side):
                measure(target, side.pid, args.concurrency, 1.0, args.max)
        for round_index in range(args.rounds):
            # Alternate who goes first, so drift in the machine's load hits both alike.
            order = sides if round_index % 2 == 0 else sides[::-1]
            with where.on_server_cpu():
                figures.add("signs", signs_per_second(alg, step, args.max))
            for side in order:
                for name, target in phases(side):
                    figures.add(name, measure(target, side.pid, args.concurrency, step, args.max))
    finally:
        if peer is not None:
            peer.stop()
        server.stop()
    return figures


def line(label: str, value: str, comment: str = "") -> str:
    return f"  {label:<40} {value:>9}  {comment}".rstrip()


def report(alg: str, figures: Figures) -> list[str]:
    def rate(label: str, name: str) -> str:
        load = (
            f"server {figures.server_cpu(name):.2f} CPU, "
            f"load generator {figures.client_cpu(name):.2f} CPU"
        )
        return line(label, f"{figures.rate(name):.0f}", load)

    def ratio(label: str, top: str, bottom: str) -> str:
        median, low, high, per_cpu = figures.ratio(top, bottom)
        spread = f"(rounds: min {low:.2f}, max {high:.2f}; per server CPU-second {per_cpu:.2f})"
        return line(label, f"{median:.2f}", spread)

    peer_grants, peer_introspect = "oidc-provider grants", "oidc-provider introspect opaque"
    out = [f"{alg} ({KEY_NAMES[alg]})"]
    signs = f"{figures.rate('signs'):.0f}"
    out.append(line("raw PyJWT signs/s", signs, "(one thread, on the servers' CPU)"))
    out.append(rate("authgate grants/s", "authgate grants"))
    out.append(ratio("ratio grants / signs", "authgate grants", "signs"))
    if figures.has(peer_grants):
        out.append(rate("oidc-provider grants/s", peer_grants))
        out.append(ratio("ratio authgate / oidc-provider grants", "authgate grants", peer_grants))
    kinds = [k for k in ("jwt", "opaque") if figures.has(f"authgate introspect {k}")]
    for kind in kinds:
        out.append(rate(f"authgate introspections/s ({kind})", f"authgate introspect {kind}"))
    if figures.has(peer_introspect):
        out.append(rate("oidc-provider introspections/s (opaque)", peer_introspect))
        for kind in kinds:
            label = f"ratio authgate ({kind}) / oidc-provider"
            out.append(ratio(label, f"authgate introspect {kind}", peer_introspect))
    return out


def anchors(results: dict[str, Figures]) -> list[str]:
    out = ["anchors (issue 3)"]
    for alg, figures in results.items():
        per_cpu = figures.per_cpu("authgate grants")
        out.append(
            line(
                f"{alg} grants per server CPU-second",
                f"{per_cpu:.0f}",
                f"= {per_cpu / KEYCLOAK_GRANTS_PER_VCPU:.1f}x Keycloak's 120/vCPU (aim >= 10x); "
                f"{per_cpu / (HYDRA_GRANTS_2CPU[1] / 2):.1f}-"
                f"{per_cpu / (HYDRA_GRANTS_2CPU[0] / 2):.1f}x Hydra's 206-271/CPU",
            )
        )
    for alg, figures in results.items():
        rate = figures.rate("authgate grants")
        out.append(
            line(
                f"{alg} grants/s on this machine",
                f"{rate:.0f}",
                f"vs Hydra 412-542 on 2 CPUs: {rate / HYDRA_GRANTS_2CPU[1]:.1f}-"
                f"{rate / HYDRA_GRANTS_2CPU[0]:.1f}x",
            )
        )
    for alg, figures in results.items():
        if figures.has("authgate introspect jwt"):
            rate = figures.rate("authgate introspect jwt")
            per_cpu = figures.per_cpu("authgate introspect jwt")
            low, high = HYDRA_INTROSPECTIONS
            out.append(
                line(
                    f"{alg} JWT introspections/s",
                    f"{rate:.0f}",
                    f"vs Hydra 8k-22k: {rate / low:.2f}x the low figure "
                    f"(aim >= 0.50x), {rate / high:.2f}x the high; "
                    f"{per_cpu:.0f} per server CPU-second",
                )
            )
    return out


def peer_description() -> str:
    package = PEER_DIR / "node_modules" / "oidc-provider" / "package.json"
    node = shutil.which("node")
    if not package.is_file() or node is None:
        return "oidc-provider not installed"
    version = json.loads(package.read_text())["version"]
    runtime = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return f"oidc-provider {version} in memory on node {runtime.stdout.strip()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="time bound per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max", type=int, default=200_000, help="count bound per step")
    parser.add_argument("--concurrency", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--alg", choices=ALGORITHMS, action="append", help="default: both")
    parser.add_argument("--no-pin", action="store_true", help="do not place processes on CPUs")
    parser.add_argument("--no-peer", action="store_true", help="skip oidc-provider")
    args = parser.parse_args()

    where = placement(not args.no_pin)
    load_before = os.getloadavg()[0]
    results: dict[str, Figures] = {}
    notes: list[str] = []
    os.sched_setaffinity(0, where.client)
    with tempfile.TemporaryDirectory() as tmp:
        for alg in args.alg or ALGORITHMS:
            results[alg] = run_algorithm(alg, Path(tmp), where, args, notes)

    placed = (
        f"servers on CPU {sorted(where.server)}, load generator on CPU {sorted(where.client)}"
        if where.pinned
        else "not pinned"
    )
    print(
        f"cpus {os.cpu_count()}; {placed}; load average {load_before:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end"
    )
    print(
        f"{args.concurrency} keep-alive connections, one request in flight each; "
        f"{args.rounds} alternating rounds of {args.seconds / args.rounds:.1f} s; medians"
    )
    print(
        f"authgate on SQLite (one process); {peer_description()}; "
        f"client_secret_basic; scope {SCOPE}"
    )
    print("CPU figures are cores busy during the measurement (1.00 = one core)")
    for alg, figures in results.items():
        print()
        print("\n".join(report(alg, figures)))
    print()
    print("\n".join(anchors(results)))
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
