"""TOTP enrolment and self-service through `/v1/me/mfa/*`."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import (
    PASSWORD,
    challenge,
    code,
    create_user,
    delete,
    enrolled,
    login,
    me,
    post,
    steady,
)


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(throttle={"login_failures": 1000})


def _token(server: AuthgateServer) -> str:
    email, _ = create_user(server)
    return str(login(server, email).json()["access_token"])


def test_enrolment_answers_secret_uri_and_an_inline_svg_qr_code(server: AuthgateServer) -> None:
    token = _token(server)
    answer = post(server, "/v1/me/mfa/totp", {"password": PASSWORD}, token)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/authgate:")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg") and "<script" not in body["qr_svg"]


def test_a_pending_enrolment_leaves_mfa_off(server: AuthgateServer) -> None:
    token = _token(server)
    post(server, "/v1/me/mfa/totp", {"password": PASSWORD}, token)
    assert me(server, token)["mfa"] == {"totp": False, "recovery_codes_left": 0}


def test_enrolment_needs_the_right_password(server: AuthgateServer) -> None:
    token = _token(server)
    answer = post(server, "/v1/me/mfa/totp", {"password": "wrong guess 9 meadow"}, token)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_credentials"


def test_enrolment_needs_a_bearer_token(server: AuthgateServer) -> None:
    answer = post(server, "/v1/me/mfa/totp", {"password": PASSWORD})
    assert answer.status_code == 401


def test_verify_turns_mfa_on_with_ten_recovery_codes(server: AuthgateServer) -> None:
    account = enrolled(server)
    assert len(account.recovery_codes) == 10
    assert len(set(account.recovery_codes)) == 10
    assert me(server, account.token)["mfa"] == {"totp": True, "recovery_codes_left": 10}


def test_verify_without_a_pending_enrolment_is_a_conflict(server: AuthgateServer) -> None:
    token = _token(server)
    answer = post(server, "/v1/me/mfa/totp/verify", {"code": "123456"}, token)
    assert answer.status_code == 409
    assert answer.json()["error"] == "no_pending_enrolment"


def test_a_wrong_code_does_not_turn_mfa_on(server: AuthgateServer) -> None:
    token = _token(server)
    secret = post(server, "/v1/me/mfa/totp", {"password": PASSWORD}, token).json()["secret"]
    wrong = code(secret, steady() + 5)
    answer = post(server, "/v1/me/mfa/totp/verify", {"code": wrong}, token)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_code"
    assert me(server, token)["mfa"]["totp"] is False


def test_a_second_enrolment_replaces_the_pending_secret(server: AuthgateServer) -> None:
    token = _token(server)
    first = post(server, "/v1/me/mfa/totp", {"password": PASSWORD}, token).json()["secret"]
    second = post(server, "/v1/me/mfa/totp", {"password": PASSWORD}, token).json()["secret"]
    assert first != second
    step = steady()
    refused = post(server, "/v1/me/mfa/totp/verify", {"code": code(first, step)}, token)
    assert refused.status_code == 400
    accepted = post(server, "/v1/me/mfa/totp/verify", {"code": code(second, step)}, token)
    assert accepted.status_code == 200, accepted.text


def test_replacing_an_enabled_authenticator_needs_one_of_its_codes(
    server: AuthgateServer,
) -> None:
    account = enrolled(server)
    refused = post(server, "/v1/me/mfa/totp", {"password": PASSWORD}, account.token)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_code"
    current = code(account.secret, steady())
    body = {"password": PASSWORD, "code": current}
    assert post(server, "/v1/me/mfa/totp", body, account.token).status_code == 200


def test_disable_with_password_and_code_turns_mfa_off(server: AuthgateServer) -> None:
    account = enrolled(server)
    body = {"password": PASSWORD, "code": code(account.secret, steady())}
    answer = delete(server, "/v1/me/mfa/totp", body, account.token)
    assert answer.status_code == 204, answer.text
    assert me(server, account.token)["mfa"] == {"totp": False, "recovery_codes_left": 0}
    assert "access_token" in login(server, account.email).json()


def test_disable_accepts_a_recovery_code(server: AuthgateServer) -> None:
    account = enrolled(server)
    body = {"password": PASSWORD, "code": account.recovery_codes[0]}
    assert delete(server, "/v1/me/mfa/totp", body, account.token).status_code == 204


def test_disable_with_a_wrong_code_keeps_mfa_on(server: AuthgateServer) -> None:
    account = enrolled(server)
    body = {"password": PASSWORD, "code": code(account.secret, steady() + 5)}
    answer = delete(server, "/v1/me/mfa/totp", body, account.token)
    assert answer.status_code == 400
    assert me(server, account.token)["mfa"]["totp"] is True


def test_disable_needs_the_password(server: AuthgateServer) -> None:
    account = enrolled(server)
    body = {"password": "wrong guess 9 meadow", "code": code(account.secret, steady())}
    assert delete(server, "/v1/me/mfa/totp", body, account.token).status_code == 401


def test_disable_without_mfa_is_a_conflict(server: AuthgateServer) -> None:
    token = _token(server)
    answer = delete(server, "/v1/me/mfa/totp", {"password": PASSWORD, "code": "123456"}, token)
    assert answer.status_code == 409
    assert answer.json()["error"] == "mfa_not_enabled"


def test_new_recovery_codes_replace_every_old_one(server: AuthgateServer) -> None:
    account = enrolled(server)
    body = {"password": PASSWORD, "code": code(account.secret, steady())}
    answer = post(server, "/v1/me/mfa/recovery-codes", body, account.token)
    assert answer.status_code == 200, answer.text
    fresh = answer.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(account.recovery_codes)
    old = post(
        server,
        "/v1/login/mfa",
        {"session": challenge(server, account.email), "recovery_code": account.recovery_codes[0]},
    )
    assert old.status_code == 400
    new = post(
        server,
        "/v1/login/mfa",
        {"session": challenge(server, account.email), "recovery_code": fresh[0]},
    )
    assert new.status_code == 200, new.text
