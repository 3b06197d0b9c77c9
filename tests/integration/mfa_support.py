"""What the MFA tests share: accounts, enrolment through the API, and TOTP codes for the
server's own clock.

The server runs in its own process on the real clock, so codes are computed here for
the real time, a step ahead or behind. A sequence of codes is computed well inside one
30-second step (`steady` waits for the next step when the current one is nearly over),
so "one step ahead" cannot turn into "the current step" halfway through a test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp

from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
STEP = 30
MARGIN = 8.0
"""Seconds a test's codes need to stay in their step (logins hash passwords: be generous)."""


def steady() -> int:
    """The current time step, with at least MARGIN seconds of it left."""
    if STEP - time.time() % STEP < MARGIN:
        time.sleep(STEP - time.time() % STEP + 0.1)
    return int(time.time() // STEP)


def code(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def create_user(server: AuthgateServer, prefix: str = "mfa") -> tuple[str, str]:
    """(email, sub) of a confirmed account."""
    email = unique_email(prefix)
    with server.admin_client() as admin:
        body = {"email": email, "password": PASSWORD, "email_verified": True}
        created = admin.post("/admin/users", json=body)
    assert created.status_code == 201, created.text
    return email, str(created.json()["sub"])


def login(
    server: AuthgateServer, email: str, password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    with server.public_client() as http:
        return http.post("/v1/login", json={"username": email, "password": password, **extra})


def post(
    server: AuthgateServer, path: str, body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with server.public_client() as http:
        return http.post(path, json=body, headers=headers)


def delete(server: AuthgateServer, path: str, body: dict[str, Any], token: str) -> httpx.Response:
    with server.public_client() as http:
        return http.request("DELETE", path, json=body, headers={"Authorization": f"Bearer {token}"})


def me(server: AuthgateServer, token: str) -> dict[str, Any]:
    with server.public_client() as http:
        answer = http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@dataclass
class Enrolled:
    """An account with TOTP on: its secret, the step its enrolment used, recovery codes."""

    email: str
    sub: str
    secret: str
    step: int
    recovery_codes: list[str]
    token: str


def enrolled(server: AuthgateServer, step: int | None = None) -> Enrolled:
    """A new account that enrolled TOTP with the code of `step` (default: one step back,
    so that the current step and the next are still unused): through `/v1/me/mfa/totp`,
    or, where the pool requires MFA, through the sign-in's enrolment session."""
    email, sub = create_user(server)
    signed_in = login(server, email)
    assert signed_in.status_code == 200, signed_in.text
    if signed_in.json().get("challenge") == "mfa_setup":
        session = signed_in.json()["session"]
        secret = post(server, "/v1/login/mfa/setup", {"session": session}).json()["secret"]
        used = (steady() - 1) if step is None else step
        body = {"session": session, "code": code(secret, used)}
        verified = post(server, "/v1/login/mfa/setup/verify", body)
        assert verified.status_code == 200, verified.text
        done = verified.json()
        return Enrolled(email, sub, secret, used, done["recovery_codes"], done["access_token"])
    token = signed_in.json()["access_token"]
    started = post(server, "/v1/me/mfa/totp", {"password": PASSWORD}, token)
    assert started.status_code == 200, started.text
    secret = started.json()["secret"]
    used = (steady() - 1) if step is None else step
    verified = post(server, "/v1/me/mfa/totp/verify", {"code": code(secret, used)}, token)
    assert verified.status_code == 200, verified.text
    return Enrolled(email, sub, secret, used, verified.json()["recovery_codes"], token)


def challenge(server: AuthgateServer, email: str) -> str:
    """The session of a password sign-in that now asks for a TOTP code."""
    answer = login(server, email)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["challenge"] == "totp", body
    return str(body["session"])


def answer(server: AuthgateServer, session: str, **fields: str) -> httpx.Response:
    return post(server, "/v1/login/mfa", {"session": session, **fields})
