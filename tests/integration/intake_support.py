"""The intake service (examples/intake) as a real subprocess behind a real authgate gate.

`IntakeService` runs `python -m examples.intake` with a YAML config; `intake_gateway` is the
gateway config that routes `/images/**` to it as the quickstart does. Images are built here
in memory (a tiny `docker save` archive) so that these tests need no Docker.

The fixtures the intake test modules share are here too; a module takes them with
`from tests.integration.intake_support import gate as gate` (and so on), and changes the
service's settings by defining its own `intake_overrides` / `intake_env` fixtures.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from examples.intake import make_images

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import PASSWORD, person

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"ok", "rejected", "failed"}
MIB = 1024 * 1024
TAR = {"Content-Type": "application/x-tar"}


def intake_gateway(port: int, **route: Any) -> dict[str, Any]:
    """The quickstart's `/images/**` route to an intake service on `port`."""
    return {
        "upstreams": {
            "intake": {"targets": [f"http://127.0.0.1:{port}"], "timeouts": {"read": "300s"}}
        },
        "routes": [
            {
                "name": "images",
                "path": "/images/**",
                "upstream": "intake",
                "authenticate": ["jwt", "cookie"],
                "authorize": "allow",
                "max_body": "2GiB",
                **route,
            }
        ],
    }


@dataclass
class IntakeService:
    """One `python -m examples.intake` process; start() blocks until /health answers."""

    workdir: Path
    issuer: str
    port: int = field(default_factory=free_port)
    overrides: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def storage_dir(self) -> Path:
        return self.workdir / "images"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> IntakeService:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "listen": f"127.0.0.1:{self.port}",
            "issuer": self.issuer,
            "audience": "intake",
            "database": str(self.workdir / "intake.db"),
            "storage": {"kind": "filesystem", "path": str(self.storage_dir)},
            **self.overrides,
        }
        path = self.workdir / "intake.yaml"
        path.write_text(yaml.safe_dump(config))
        log = self.workdir / "intake.log"
        with log.open("ab") as out:  # a restart adds to the log
            self.process = subprocess.Popen(
                [sys.executable, "-m", "examples.intake", "--config", str(path)],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"intake exited at start:\n{log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"intake did not start in time:\n{log.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the process ends where it is, with no shutdown of its own."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=15)

    def stored_objects(self) -> list[Path]:
        return sorted(p for p in (self.storage_dir / "objects").rglob("*") if p.is_file())

    def incoming(self) -> list[Path]:
        return sorted((self.storage_dir / "incoming").glob("*"))


def token_for(gate: AuthgateServer, groups: tuple[str, ...] = ()) -> str:
    """An access token of a new confirmed user, member of `groups`."""
    email, sub = person(gate)
    with gate.admin_client() as admin:
        for group in groups:
            admin.post("/admin/groups", json={"name": group})
            added = admin.put(f"/admin/groups/{group}/members/{sub}")
            assert added.status_code == 204, added.text
    with gate.public_client() as http:
        login = http.post("/v1/login", json={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def docker_save(env: list[str] | None = None, marker: str = "") -> bytes:
    """A tiny valid `docker save` archive: one layer with one file, a config, a manifest."""
    layer = _tar({"hello.txt": f"hello {marker}\n".encode()})
    layer_digest = hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"User": "1000", "Env": env or ["PATH=/usr/bin"], "Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        }
    ).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = json.dumps(
        [
            {
                "Config": config_name,
                "RepoTags": ["hello:latest"],
                "Layers": [f"{layer_digest}/layer.tar"],
            }
        ]
    ).encode()
    return _tar(
        {"manifest.json": manifest, config_name: config, f"{layer_digest}/layer.tar": layer}
    )


def slow_image(zero_bytes: int) -> bytes:
    """A small `docker save` archive whose vetting takes a while: its one gzip layer holds
    one file of `zero_bytes` zeros, which the vetting decompresses and hashes in full.

    The layer is made of repeated gzip members (one compressed block, many times), so
    neither the builder nor the upload ever holds the zeros themselves.
    """
    block = 64 * MIB
    assert zero_bytes % block == 0
    info = tarfile.TarInfo("app/zeros")
    info.size, info.mode, info.mtime = zero_bytes, 0o644, make_images.EPOCH
    head = info.tobuf(tarfile.USTAR_FORMAT)
    tail = bytes(1024)  # the tar's end: two zero blocks (the file fills its last block)
    zeros = bytes(block)
    diff_id = hashlib.sha256(head)
    for _ in range(zero_bytes // block):
        diff_id.update(zeros)
    diff_id.update(tail)
    layer = b"".join(
        [
            make_images.gzipped(head),
            make_images.gzipped(zeros) * (zero_bytes // block),
            make_images.gzipped(tail),
        ]
    )
    image = make_images.Image([layer], [f"sha256:{diff_id.hexdigest()}"])
    return make_images.docker_save(image, "intake-slow:latest")


def wait_vetted(
    http: httpx.Client, image_id: str, headers: dict[str, str], timeout: float = 60.0
) -> dict[str, Any]:
    """The image once its vetting has ended (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = http.get(f"/images/{image_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] in TERMINAL:
            return dict(answer.json())
        time.sleep(0.1)
    raise AssertionError(f"image {image_id} still not vetted")


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def backend() -> str:
    """The gate on SQLite only: the service keeps its own database, the gate's is not tested."""
    return "sqlite"


@pytest.fixture(scope="module")
def port() -> int:
    """The service's port, known before the gate that routes to it starts."""
    return free_port()


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, port: int) -> AuthgateServer:
    return make_server(gateway=intake_gateway(port))


@pytest.fixture(scope="module")
def intake_overrides() -> dict[str, Any]:
    """Settings of the module's intake service over the defaults (a module may redefine it)."""
    return {}


@pytest.fixture(scope="module")
def intake_env() -> dict[str, str]:
    """Environment variables of the module's intake service (a module may redefine it)."""
    return {}


@pytest.fixture(scope="module")
def intake(
    gate: AuthgateServer,
    port: int,
    intake_overrides: dict[str, Any],
    intake_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[IntakeService]:
    service = IntakeService(
        tmp_path_factory.mktemp("intake"),
        gate.public,
        port=port,
        overrides=intake_overrides,
        env=intake_env,
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture
def http(gate: AuthgateServer, intake: IntakeService) -> Iterator[httpx.Client]:
    """A client of the gate, once the service behind it is up."""
    with gate.public_client() as client:
        yield client
