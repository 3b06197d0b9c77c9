"""The processes bench/gateway.py measures, started on loopback ports and stopped after.

The upstream (nginx, else bench/trivial_auth.py), the pass-through proxies
(bench/passthrough.py), `authgate serve` with two gated routes and a client_credentials
token, the trivial decider, and four nginx fronts made from the shipped
deploy/nginx/authgate.conf (deciders authgate and trivial, decision cache on and off). All
of them run on the servers' CPU; nginx runs from a temporary prefix, as root only when we are.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer, free_port  # noqa: E402

BENCH = ROOT / "bench"
TEMPLATE = ROOT / "deploy" / "nginx" / "authgate.conf"
BENCH_PREFIX = "/bench"
PLAIN_PREFIX = "/plain"
HELLO_PATH = BENCH_PREFIX + "/hello"
ECHO_PATH = BENCH_PREFIX + "/echo"
SCOPE = "bench:read"
CACHE_LINE = "proxy_cache authgate_decisions;"
STARTUP_SECONDS = 30.0
PROXY_STACKS = {
    "b": ("uvicorn", "uvicorn + aiohttp client"),
    "b'": ("aiohttp", "aiohttp server + aiohttp client"),
    "b''": ("uvicorn-httpx", "uvicorn + httpx AsyncClient"),
}
"""The stacks measured for the gate's choice; b is the one the gate is built on."""


@dataclass(frozen=True)
class Placement:
    """Servers on the last CPU, the load generator on the others, when there are two+."""

    server: frozenset[int]
    client: frozenset[int]
    taskset: str | None

    @classmethod
    def choose(cls, pin: bool) -> Placement:
        cpus = sorted(os.sched_getaffinity(0))
        taskset = shutil.which("taskset")
        if not pin or len(cpus) < 2 or taskset is None:
            return cls(frozenset(cpus), frozenset(cpus), None)
        placement = cls(frozenset(cpus[-1:]), frozenset(cpus[:-1]), taskset)
        os.sched_setaffinity(0, placement.client)  # this process drives the Python load
        return placement

    def _prefix(self, cpus: frozenset[int]) -> list[str]:
        if self.taskset is None:
            return []
        return [self.taskset, "-c", ",".join(str(c) for c in sorted(cpus))]

    def server_command(self, command: list[str]) -> list[str]:
        return [*self._prefix(self.server), *command]

    def client_command(self, command: list[str]) -> list[str]:
        return [*self._prefix(self.client), *command]

    @contextmanager
    def on_server_cpu(self) -> Iterator[None]:
        """For processes started by library code: they inherit this process's CPUs."""
        if self.taskset is None:
            yield
            return
        os.sched_setaffinity(0, self.server)
        try:
            yield
        finally:
            os.sched_setaffinity(0, self.client)

    def describe(self) -> str:
        if self.taskset is None:
            return "not pinned (fewer than 2 CPUs, taskset missing, or --no-pin)"
        return (
            f"servers pinned to CPU {sorted(self.server)}, load generator to CPU "
            f"{sorted(self.client)} (taskset)"
        )


@dataclass
class Service:
    """A started process on a loopback port."""

    kind: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for_port(service: Service, log: Path) -> Service:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.kind} exited at start:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", service.port), timeout=1):
                return service
        except OSError:
            time.sleep(0.05)
    service.stop()
    raise RuntimeError(f"{service.kind} did not listen in time:\n{log.read_text()}")


def start(kind: str, command: list[str], port: int, log: Path, placement: Placement) -> Service:
    with log.open("wb") as out:
        process = subprocess.Popen(
            placement.server_command(command), stdout=out, stderr=subprocess.STDOUT
        )
    return wait_for_port(Service(kind, port, process), log)


def python_server(
    script: str, args: list[str], kind: str, workdir: Path, where: Placement
) -> Service:
    port = free_port()
    command = [sys.executable, str(BENCH / script), "--port", str(port), *args]
    return start(kind, command, port, workdir / f"{script}-{port}.log", where)


# --------------------------------------------------------------------------- nginx


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


ECHOED = ("x-authgate-sub", "x-authgate-identity", "authorization")
UPSTREAM_SITE = (
    "server {\n"
    "    listen 127.0.0.1:@PORT@;\n"
    "    default_type text/plain;\n"
    "    location ~ /echo$ {\n"
    '        return 200 "' + "".join(f"{h}=$http_{h.replace('-', '_')}\\n" for h in ECHOED) + '";\n'
    "    }\n"
    '    location / { return 200 "hello from the upstream\\n"; }\n'
    "}\n"
)
"""The upstream: a static body, and at ECHO_PATH the identity headers it was given."""


def start_nginx(
    binary: str, kind: str, site: str, port: int, workdir: Path, where: Placement
) -> Service:
    """nginx from a temporary prefix: one worker, no access log, long keep-alive."""
    prefix = workdir / f"nginx-{port}"
    prefix.mkdir()
    (prefix / "site.conf").write_text(site)
    temp = "".join(
        f"{k}_temp_path {prefix / k};\n"
        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = (
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
        + "worker_processes 1;\nevents { worker_connections 4096; }\n"
        + f"http {{\naccess_log off;\nkeepalive_requests 1000000;\n{temp}"
        + f"include {prefix / 'site.conf'};\n}}\n"
    )
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    command = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx refused the {kind} config:\n{checked.stderr}")
    return start(kind, [*command, "-g", "daemon off;"], port, prefix / "error.log", where)


def front_site(port: int, upstream: int, decider: int, cache_dir: Path, cached: bool) -> str:
    """The shipped template with its placeholders filled; the cache line taken out if asked."""
    text = TEMPLATE.read_text()
    for name, value in {
        "LISTEN": f"127.0.0.1:{port}",
        "SERVER_NAME": "_",
        "UPSTREAM": f"127.0.0.1:{upstream}",
        "AUTHGATE": f"127.0.0.1:{decider}",
        "CACHE_DIR": str(cache_dir),
    }.items():
        text = text.replace(f"@{name}@", value)
    if leftover := re.findall(r"@[A-Z_]+@", text):
        raise RuntimeError(f"unfilled placeholders in {TEMPLATE}: {leftover}")
    if not cached:
        if CACHE_LINE not in text:
            raise RuntimeError(f"{TEMPLATE} has no `{CACHE_LINE}` to turn off")
        text = text.replace(CACHE_LINE, "")
    return text


# --------------------------------------------------------------------------- authgate


def gate_config(upstream: str, signing_alg: str) -> dict[str, object]:
    """One route as the issue describes the gate, and its twin without the identity JWT
    (a diagnostic row: signing that JWT is per request)."""

    def route(name: str, prefix: str, jwt: bool) -> dict[str, object]:
        return {
            "name": name,
            "path": prefix + "/**",
            "upstream": "app",
            "authenticate": ["jwt"],
            "authorize": {"require": {"scopes_any": [SCOPE]}},
            "identity": {"headers": True, "jwt": jwt},
        }

    return {
        "tokens": {"signing_alg": signing_alg},
        "oauth": {"scopes": {SCOPE: "Call the bench upstream"}},
        "gateway": {
            "trusted_proxies": ["127.0.0.1/32"],
            "upstreams": {"app": {"targets": [upstream]}},
            "routes": [route("bench", BENCH_PREFIX, True), route("plain", PLAIN_PREFIX, False)],
        },
    }


def client_credentials_token(server: AuthgateServer) -> str:
    """A machine client made through the admin API, and its access token."""
    metadata = {
        "client_name": "bench",
        "grant_types": ["client_credentials"],
        "scope": SCOPE,
        "token_endpoint_auth_method": "client_secret_basic",
    }
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=metadata)
    if created.status_code != 201:
        raise RuntimeError(f"cannot create the bench client: {created.text}")
    basic = (created.json()["client_id"], created.json()["client_secret"])
    form = {"grant_type": "client_credentials", "scope": SCOPE}
    answer = httpx.post(f"{server.public}/oauth2/token", data=form, auth=basic, timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"the client_credentials grant failed: {answer.text}")
    return str(answer.json()["access_token"])


# --------------------------------------------------------------------------- all of them


@dataclass
class Front:
    """An nginx front from the shipped template and what it asks."""

    decider: str
    cached: bool
    service: Service

    @property
    def url(self) -> str:
        return self.service.url


@dataclass
class Servers:
    upstream: Service
    proxies: dict[str, Service]
    signing_alg: str
    authgate: AuthgateServer | None = None
    token: str = ""
    authgate_problem: str = ""
    trivial: Service | None = None
    fronts: list[Front] = field(default_factory=list)
    nginx_problem: str = ""

    def pids(self) -> list[int]:
        services = [self.upstream, *self.proxies.values()]
        found = [s.process.pid for s in services + [f.service for f in self.fronts]]
        if self.authgate is not None and self.authgate.process is not None:
            found.append(self.authgate.process.pid)
        if self.trivial is not None:
            found.append(self.trivial.process.pid)
        return found

    def describe(self) -> list[str]:
        nginx = nginx_binary()
        version = f"nginx not used: {self.nginx_problem}"
        if nginx and not self.nginx_problem:
            version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
        return [
            f"upstream: {self.upstream.kind}; {version.strip()}",
            "pass-through proxies (bench/passthrough.py; uvicorn with httptools and uvloop): "
            + "; ".join(f"{key} = {label}" for key, (_, label) in PROXY_STACKS.items()),
            f"authgate: `authgate serve`, SQLite, {self.signing_alg} keys; route "
            f"{BENCH_PREFIX}/** (jwt, scopes_any [{SCOPE}], identity headers + identity JWT) "
            f"and {PLAIN_PREFIX}/** (the same without the identity JWT); one "
            "client_credentials token",
        ]


@contextmanager
def start_servers(
    workdir: Path, where: Placement, use_nginx: bool, signing_alg: str
) -> Iterator[Servers]:
    nginx = nginx_binary() if use_nginx else None
    with ExitStack() as stack:

        def keep(service: Service) -> Service:
            stack.callback(service.stop)
            return service

        if nginx is not None:
            port = free_port()
            site = UPSTREAM_SITE.replace("@PORT@", str(port))
            upstream = keep(start_nginx(nginx, "nginx static body", site, port, workdir, where))
        else:
            upstream = keep(
                python_server("trivial_auth.py", [], "raw ASGI app on uvicorn", workdir, where)
            )
        proxies = {
            key: keep(
                python_server(
                    "passthrough.py",
                    ["--stack", stack_name, "--upstream", upstream.url],
                    f"pass-through {label}",
                    workdir,
                    where,
                )
            )
            for key, (stack_name, label) in PROXY_STACKS.items()
        }
        servers = Servers(upstream=upstream, proxies=proxies, signing_alg=signing_alg)
        try:
            with where.on_server_cpu():
                gate = AuthgateServer(
                    workdir / "authgate",
                    f"sqlite+aiosqlite:///{workdir / 'authgate.db'}",
                    gate_config(upstream.url, signing_alg),
                    PRODUCTION_ARGON2,
                ).start()
            stack.callback(gate.stop)
            servers.authgate = gate
            servers.token = client_credentials_token(gate)
        except RuntimeError as exc:
            servers.authgate_problem = f"authgate: {str(exc)[-300:]}"
        if nginx is None:
            servers.nginx_problem = (
                "nginx is not installed (apt-get install nginx)" if use_nginx else "--no-nginx"
            )
        else:
            trivial = keep(python_server("trivial_auth.py", [], "trivial decider", workdir, where))
            servers.trivial = trivial
            deciders = {"trivial Python": trivial.port}
            if servers.authgate is not None:
                deciders["authgate"] = servers.authgate.public_port
            for decider, decider_port in deciders.items():
                for cached in (True, False):
                    port = free_port()
                    cache = workdir / f"cache-{port}"
                    site = front_site(port, upstream.port, decider_port, cache, cached)
                    kind = f"nginx front ({decider})"
                    service = keep(start_nginx(nginx, kind, site, port, workdir, where))
                    servers.fronts.append(Front(decider, cached, service))
        yield servers
