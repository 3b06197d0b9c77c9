"""The pool's MFA mode (off, required) and an administrator's reset of a lost device."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import (
    PASSWORD,
    answer,
    challenge,
    code,
    create_user,
    delete,
    enrolled,
    login,
    post,
    steady,
)
from tests.integration.oauth_support import jose_parts


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(throttle={"login_failures": 1000})


@pytest.fixture(scope="module")
def off(make_server: ServerFactory) -> AuthgateServer:
    return make_server(user_pool={"mfa": "off"})


@pytest.fixture(scope="module")
def required(make_server: ServerFactory) -> AuthgateServer:
    return make_server(user_pool={"mfa": "required"}, throttle={"login_failures": 1000})


def _setup_session(server: AuthgateServer, email: str) -> str:
    body = login(server, email).json()
    assert body["challenge"] == "mfa_setup", body
    return str(body["session"])


# -- mfa: off ------------------------------------------------------------------------------


def test_with_mfa_off_enrolment_is_refused(off: AuthgateServer) -> None:
    email, _ = create_user(off)
    token = login(off, email).json()["access_token"]
    refused = post(off, "/v1/me/mfa/totp", {"password": PASSWORD}, token)
    assert refused.status_code == 403
    assert refused.json()["error"] == "mfa_disabled"


def test_with_mfa_off_recovery_codes_are_refused(off: AuthgateServer) -> None:
    email, _ = create_user(off)
    token = login(off, email).json()["access_token"]
    body = {"password": PASSWORD, "code": "123456"}
    assert post(off, "/v1/me/mfa/recovery-codes", body, token).status_code == 403
    assert delete(off, "/v1/me/mfa/totp", body, token).status_code == 403


# -- mfa: required -------------------------------------------------------------------------


def test_with_mfa_required_a_user_without_a_factor_must_enrol(required: AuthgateServer) -> None:
    email, _ = create_user(required)
    body = login(required, email).json()
    assert set(body) == {"challenge", "session", "expires_in"}
    assert body["challenge"] == "mfa_setup"


def test_an_enrolment_session_answers_tokens_and_recovery_codes(
    required: AuthgateServer,
) -> None:
    email, _ = create_user(required)
    session = _setup_session(required, email)
    enrolment = post(required, "/v1/login/mfa/setup", {"session": session})
    assert enrolment.status_code == 200, enrolment.text
    secret = enrolment.json()["secret"]
    done = post(
        required,
        "/v1/login/mfa/setup/verify",
        {"session": session, "code": code(secret, steady())},
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert len(body["recovery_codes"]) == 10
    assert jose_parts(body["access_token"])[1]["amr"] == ["pwd", "otp"]
    assert login(required, email).json()["challenge"] == "totp"


def test_an_enrolment_session_cannot_answer_a_code(required: AuthgateServer) -> None:
    email, _ = create_user(required)
    refused = answer(required, _setup_session(required, email), code="123456")
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_session"


def test_a_code_session_cannot_enrol(required: AuthgateServer) -> None:
    account = enrolled(required)
    session = challenge(required, account.email)
    assert post(required, "/v1/login/mfa/setup", {"session": session}).status_code == 401


def test_with_mfa_required_the_factor_cannot_be_removed(required: AuthgateServer) -> None:
    account = enrolled(required)
    body = {"password": PASSWORD, "code": code(account.secret, steady())}
    refused = delete(required, "/v1/me/mfa/totp", body, account.token)
    assert refused.status_code == 409
    assert refused.json()["error"] == "mfa_required"


# -- administrators ------------------------------------------------------------------------


def test_an_admin_reset_removes_the_factor_and_is_audited(server: AuthgateServer) -> None:
    account = enrolled(server)
    with server.admin_client() as admin:
        reset = admin.delete(f"/admin/users/{account.sub}/mfa")
        assert reset.status_code == 200, reset.text
        assert reset.json() == {"removed": True}
        events = admin.get("/admin/audit", params={"sub": account.sub}).json()["items"]
    assert "admin_mfa_reset" in [e["event"] for e in events]
    assert "access_token" in login(server, account.email).json()


def test_an_admin_reset_of_an_unknown_user_is_not_found(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        assert (
            admin.delete("/admin/users/00000000-0000-0000-0000-000000000000/mfa").status_code == 404
        )


def test_with_mfa_required_a_reset_user_enrols_again(required: AuthgateServer) -> None:
    account = enrolled(required)
    with required.admin_client() as admin:
        assert admin.delete(f"/admin/users/{account.sub}/mfa").status_code == 200
    assert login(required, account.email).json()["challenge"] == "mfa_setup"


def test_the_cli_resets_a_user_by_username(server: AuthgateServer) -> None:
    account = enrolled(server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "authgate",
            "users",
            "mfa-reset",
            account.email,
            "--config",
            str(server.workdir / "authgate.yaml"),
        ],
        cwd=server.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "mfa reset" in result.stdout
    assert "access_token" in login(server, account.email).json()
