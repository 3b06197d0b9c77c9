"""A real authgate process on loopback ports, with its outbox, for integration tests."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from authgate.config import Argon2Settings
from tests.ports import free_port

CODE_LINE = re.compile(r"^(\d{6})$", re.MULTILINE)
TEST_ARGON2 = {"memory_kib": 256, "time_cost": 1, "parallelism": 1}
"""Argon2id at its cheapest for the test servers: tests sign up and in thousands of times,
and OWASP's cost (19 MiB, t=2: ~60 ms a hash here) added minutes to a run."""
PRODUCTION_ARGON2 = Argon2Settings().model_dump()
"""The configuration's defaults (OWASP's minimum), for tests of hashing at the real cost."""


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class Mail:
    to: str
    subject: str
    body: str

    @property
    def code(self) -> str | None:
        match = CODE_LINE.search(self.body)
        return match.group(1) if match else None


@dataclass
class AuthgateServer:
    """One `authgate serve` subprocess; start() blocks until both listeners answer."""

    workdir: Path
    database_url: str
    overrides: dict[str, Any] = field(default_factory=dict)
    argon2: dict[str, Any] = field(default_factory=lambda: dict(TEST_ARGON2))
    """Password hashing cost: cheap for tests; benchmarks pass PRODUCTION_ARGON2, since a
    login measured at a cost nobody runs would be a figure about nothing."""
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.public_port = free_port()
        self.admin_port = free_port()
        self.public = f"http://127.0.0.1:{self.public_port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.data_dir = self.workdir / "data"
        self.outbox = self.workdir / "outbox"
        self.log = self.workdir / "server.log"

    @property
    def config(self) -> dict[str, Any]:
        base = {
            "data_dir": str(self.data_dir),
            "issuer": self.public,
            "public": {"listen": f"127.0.0.1:{self.public_port}"},
            "admin": {
                "listen": f"127.0.0.1:{self.admin_port}",
                "token": f"file:{self.data_dir / 'admin-token'}",
            },
            "database": {"url": self.database_url},
            "secrets": {"key_encryption_key": f"file:{self.data_dir / 'kek'}"},
            "mail": {"sender": "file", "outbox_dir": str(self.outbox)},
            "passwords": {"argon2": self.argon2},
            "throttle": {
                "signup_per_ip": "10000/hour",
                "resend_per_ip": "10000/hour",
                "forgot_per_ip": "10000/hour",
                "federation_per_ip": "10000/hour",
            },
        }
        return deep_merge(base, self.overrides)

    def start(self) -> AuthgateServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "authgate.yaml"
        config_path.write_text(yaml.safe_dump(self.config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "authgate", "serve", "--config", str(config_path)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"authgate exited at start:\n{self.log.read_text()}")
            try:
                if all(
                    httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                    for url in (self.public, self.admin)
                ):
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"authgate did not start in time:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_records(self) -> list[dict[str, Any]]:
        """Every complete line the server wrote, parsed: its output is no terminal, so each
        line is one JSON object (`logging.format` defaults to json)."""
        lines = self.log.read_text(encoding="utf-8").split("\n")[:-1]
        return [json.loads(line) for line in lines]

    def access_records(self) -> list[dict[str, Any]]:
        return [r for r in self.log_records() if r["logger"] == "authgate.access"]

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin-token").read_text().strip()

    def public_client(self, local_address: str | None = None) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        return httpx.Client(base_url=self.public, timeout=30, transport=transport)

    def admin_client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.admin, timeout=30, headers=headers)

    def mails(self, to: str | None = None) -> list[Mail]:
        """Messages in the outbox, oldest first, optionally only those to `to`."""
        if not self.outbox.exists():
            return []
        found = []
        for path in sorted(self.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            mail = Mail(str(message["To"]), str(message["Subject"]), text)
            if to is None or mail.to.lower() == to.lower():
                found.append(mail)
        return found

    def wait_for_mail(self, to: str, count: int = 1, timeout: float = 10.0) -> Mail:
        """The `count`-th message to `to` (mail leaves in the background)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = self.mails(to)
            if len(mails) >= count:
                return mails[count - 1]
            time.sleep(0.05)
        raise AssertionError(f"no mail #{count} to {to} within {timeout}s")

    def latest_code(self, to: str) -> str:
        mails = self.mails(to)
        codes = [m.code for m in mails if m.code]
        if not codes:
            raise AssertionError(f"no code mailed to {to}")
        return codes[-1]
