"""The intake service (examples/intake) as a real subprocess behind a real authgate gate.

`IntakeService` runs `python -m examples.intake` with a YAML config; `intake_gateway` is the
gateway config that routes `/images/**` to it as the quickstart does. Images are built here
in memory (a tiny `docker save` archive) so that these tests need no Docker.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import PASSWORD, person

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"ok", "rejected", "failed"}


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
        with log.open("wb") as out:
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


def wait_vetted(http: httpx.Client, image_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """The image once its vetting has ended (bounded wait)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = http.get(f"/images/{image_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] in TERMINAL:
            return dict(answer.json())
        time.sleep(0.1)
    raise AssertionError(f"image {image_id} still not vetted")
