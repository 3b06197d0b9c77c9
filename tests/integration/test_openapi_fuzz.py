"""Both OpenAPI documents drive a fuzzer against the real server (issue 9, item 22).

Schemathesis reads each document and sends what it describes (and what it does not:
boundary values, wrong types, missing fields), then checks every answer: never a server
error, always a documented status, and a body that matches its documented schema. A
document that leaves out a body, a parameter or an error answer fails here. Bounded and
seeded, so it takes about a minute and does not flake; one SQLite server serves all runs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

SCHEMATHESIS = Path(sys.executable).with_name("st")
CHECKS = (
    "not_a_server_error,status_code_conformance,"
    "content_type_conformance,response_schema_conformance"
)
MAX_EXAMPLES = 12
SEED = 9
PASSWORD = "lemon tree 4 harbour"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthgateServer]:
    workdir = tmp_path_factory.mktemp("fuzzed")
    started = AuthgateServer(workdir, f"sqlite+aiosqlite:///{workdir / 'authgate.db'}").start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def user_token(server: AuthgateServer) -> str:
    address = unique_email("fuzz")
    with server.admin_client() as admin:
        body = {"email": address, "password": PASSWORD, "email_verified": True}
        assert admin.post("/admin/users", json=body).status_code == 201
    answer = httpx.post(
        f"{server.public}/v1/login", json={"username": address, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def fuzz(document: str, token: str, workdir: Path, *options: str) -> None:
    """Run schemathesis over one document; fail with its report when any check fails."""
    command = [
        str(SCHEMATHESIS),
        "run",
        document,
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        *options,
    ]
    done = subprocess.run(  # noqa: S603 - our own command line
        command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-20000:]


def test_the_admin_document_holds_for_every_answer(server: AuthgateServer, tmp_path: Path) -> None:
    fuzz(f"{server.admin}/openapi.json", server.admin_token, tmp_path)


def test_the_public_document_holds_for_every_answer(server: AuthgateServer, tmp_path: Path) -> None:
    # The admin token: the decision API answers it; the user's operations answer 401.
    fuzz(f"{server.public}/openapi.json", server.admin_token, tmp_path)


def test_the_signed_in_users_operations_hold_for_every_answer(
    server: AuthgateServer, user_token: str, tmp_path: Path
) -> None:
    fuzz(
        f"{server.public}/openapi.json",
        user_token,
        tmp_path,
        "--include-path-regex",
        "^/(v1/me|oauth2/userinfo)",
    )
