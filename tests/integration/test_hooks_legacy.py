"""The seed-style legacy table (email, hex salt, hex PBKDF2-SHA256 at 100,000 iterations)
moves over through examples/hooks/legacy_migration.py as users sign in."""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.hook_receiver import new_secret

ROOT = Path(__file__).resolve().parents[2]
LEGACY = {
    "ada@legacy.example": ("Ada Lovelace", "analytical engine 1843"),
    "alan@legacy.example": ("Alan Turing", "universal machine 1936"),
}


def _legacy_table(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (email TEXT, salt TEXT, password_hash TEXT, name TEXT)")
        for email, (name, password) in LEGACY.items():
            salt = secrets.token_bytes(16)
            digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)
            db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?)", (email, salt.hex(), digest.hex(), name)
            )


@pytest.fixture(scope="module")
def legacy(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, Path]]:
    """(url, secret, database) of the running example (one per backend's server)."""
    database = tmp_path_factory.mktemp("legacy") / "legacy.db"
    _legacy_table(database)
    secret, port = new_secret(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "examples.hooks.legacy_migration",
            "--listen",
            f"127.0.0.1:{port}",
            "--database",
            str(database),
        ],
        cwd=ROOT,
        env={**os.environ, "HOOK_SECRET": secret},
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(url, content=b"{}", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url, secret, database
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def pool(make_server: ServerFactory, legacy: tuple[str, str, Path]) -> AuthgateServer:
    url, secret, _ = legacy
    hook = {"url": url, "secret": secret, "timeout": 2, "on_error": "deny"}
    return make_server(hooks={"user_migration": hook})


def login(pool: AuthgateServer, email: str, password: str) -> httpx.Response:
    with pool.public_client() as client:
        return client.post("/v1/login", json={"username": email, "password": password})


def test_a_legacy_user_signs_in_and_then_uses_authgates_own_hash(
    pool: AuthgateServer, legacy: tuple[str, str, Path]
) -> None:
    name, password = LEGACY["ada@legacy.example"]

    first = login(pool, "ada@legacy.example", password)

    assert first.status_code == 200, first.text
    with pool.admin_client() as admin:
        (user,) = admin.get("/admin/users", params={"email_prefix": "ada@"}).json()["items"]
    assert user["attributes"]["name"] == name
    assert user["email_verified"] is True
    away = legacy[2].rename(legacy[2].with_suffix(".away"))
    try:  # the legacy store is gone: authgate's own argon2id hash must do
        assert login(pool, "ada@legacy.example", password).status_code == 200
    finally:
        away.rename(legacy[2])


def test_a_wrong_password_does_not_migrate(pool: AuthgateServer) -> None:
    wrong = login(pool, "alan@legacy.example", "not his password 42")

    assert wrong.status_code == 401
    with pool.admin_client() as admin:
        found = admin.get("/admin/users", params={"email_prefix": "alan@"}).json()["items"]
    assert found == []
