"""Signing in with a second factor: the challenge, codes once, drift, limits, recovery codes."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import (
    PASSWORD,
    answer,
    challenge,
    code,
    create_user,
    enrolled,
    login,
    me,
    post,
    steady,
)
from tests.integration.oauth_support import jose_parts

TOKEN_KEYS = {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(throttle={"login_failures": 1000})


def test_a_password_alone_no_longer_answers_tokens_but_a_challenge(
    server: AuthgateServer,
) -> None:
    account = enrolled(server)
    body = login(server, account.email).json()
    assert set(body) == {"challenge", "session", "expires_in"}
    assert body["challenge"] == "totp"
    assert body["expires_in"] == 180
    assert len(body["session"]) >= 43


def test_a_wrong_password_gets_no_challenge(server: AuthgateServer) -> None:
    account = enrolled(server)
    refused = login(server, account.email, "wrong guess 9 meadow")
    assert refused.status_code == 401
    assert "session" not in refused.json()


def test_the_code_of_the_current_step_answers_the_tokens(server: AuthgateServer) -> None:
    account = enrolled(server)
    step = steady()
    done = answer(server, challenge(server, account.email), code=code(account.secret, step))
    assert done.status_code == 200, done.text
    assert set(done.json()) == TOKEN_KEYS
    assert done.headers["cache-control"] == "no-store"


def test_a_code_is_accepted_once(server: AuthgateServer) -> None:
    account = enrolled(server)
    current = code(account.secret, steady())
    assert answer(server, challenge(server, account.email), code=current).status_code == 200
    replay = answer(server, challenge(server, account.email), code=current)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_code"


def test_a_code_older_than_the_last_one_used_is_refused(server: AuthgateServer) -> None:
    account = enrolled(server)
    step = steady()
    ahead = code(account.secret, step + 1)
    assert answer(server, challenge(server, account.email), code=ahead).status_code == 200
    older = answer(server, challenge(server, account.email), code=code(account.secret, step))
    assert older.status_code == 400


def test_a_code_one_step_ahead_is_accepted(server: AuthgateServer) -> None:
    account = enrolled(server)
    ahead = code(account.secret, steady() + 1)
    assert answer(server, challenge(server, account.email), code=ahead).status_code == 200


def test_a_code_two_steps_ahead_is_refused(server: AuthgateServer) -> None:
    account = enrolled(server)
    too_far = code(account.secret, steady() + 2)
    assert answer(server, challenge(server, account.email), code=too_far).status_code == 400


def test_enrolment_accepts_a_code_one_step_behind(server: AuthgateServer) -> None:
    account = enrolled(server, step=steady() - 1)
    assert account.recovery_codes


def test_enrolment_refuses_a_code_two_steps_behind(server: AuthgateServer) -> None:
    email, _ = create_user(server)
    token = login(server, email).json()["access_token"]
    secret = post(server, "/v1/me/mfa/totp", {"password": PASSWORD}, token).json()["secret"]
    stale = code(secret, steady() - 2)
    assert post(server, "/v1/me/mfa/totp/verify", {"code": stale}, token).status_code == 400


def test_a_session_is_spent_by_its_sign_in(server: AuthgateServer) -> None:
    account = enrolled(server)
    session = challenge(server, account.email)
    step = steady()
    assert answer(server, session, code=code(account.secret, step)).status_code == 200
    again = answer(server, session, code=code(account.secret, step + 1))
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_session"


def test_five_wrong_codes_end_the_session(server: AuthgateServer) -> None:
    account = enrolled(server)
    session = challenge(server, account.email)
    step = steady()
    for _ in range(5):
        assert answer(server, session, code=code(account.secret, step + 7)).status_code == 400
    ended = answer(server, session, code=code(account.secret, step))
    assert ended.status_code == 401
    assert ended.json()["error"] == "invalid_session"


def test_an_unknown_session_is_refused(server: AuthgateServer) -> None:
    refused = answer(server, "x" * 43, code="123456")
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_session"


def test_a_recovery_code_signs_in_once(server: AuthgateServer) -> None:
    account = enrolled(server)
    recovery = account.recovery_codes[3]
    done = answer(server, challenge(server, account.email), recovery_code=recovery)
    assert done.status_code == 200, done.text
    assert me(server, done.json()["access_token"])["mfa"]["recovery_codes_left"] == 9
    again = answer(server, challenge(server, account.email), recovery_code=recovery)
    assert again.status_code == 400


def test_a_recovery_code_may_come_in_the_code_field(server: AuthgateServer) -> None:
    account = enrolled(server)
    recovery = account.recovery_codes[0].upper().replace("-", " ")
    assert answer(server, challenge(server, account.email), code=recovery).status_code == 200


def test_a_totp_sign_in_carries_amr_otp_and_acr_aal2(server: AuthgateServer) -> None:
    account = enrolled(server)
    tokens = answer(
        server, challenge(server, account.email), code=code(account.secret, steady())
    ).json()
    for kind in ("access_token", "id_token"):
        claims = jose_parts(tokens[kind])[1]
        assert claims["amr"] == ["pwd", "otp"], kind
        assert claims["acr"] == "aal2", kind


def test_a_recovery_code_sign_in_carries_amr_mfa(server: AuthgateServer) -> None:
    account = enrolled(server)
    tokens = answer(
        server, challenge(server, account.email), recovery_code=account.recovery_codes[1]
    ).json()
    claims = jose_parts(tokens["access_token"])[1]
    assert claims["amr"] == ["pwd", "mfa"]
    assert claims["acr"] == "aal2"


def test_a_password_sign_in_carries_amr_pwd_and_acr_aal1(server: AuthgateServer) -> None:
    email, _ = create_user(server)
    tokens = login(server, email).json()
    for kind in ("access_token", "id_token"):
        claims = jose_parts(tokens[kind])[1]
        assert claims["amr"] == ["pwd"]
        assert claims["acr"] == "aal1"


def test_refreshed_tokens_keep_the_amr_of_the_sign_in(server: AuthgateServer) -> None:
    account = enrolled(server)
    tokens = answer(
        server, challenge(server, account.email), code=code(account.secret, steady())
    ).json()
    refreshed = post(server, "/v1/token/refresh", {"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    for kind in ("access_token", "id_token"):
        assert jose_parts(refreshed.json()[kind])[1]["amr"] == ["pwd", "otp"]


def test_wrong_codes_count_toward_the_login_lockout(make_server: ServerFactory) -> None:
    strict = make_server(throttle={"login_failures": 3})
    account = enrolled(strict)
    session = challenge(strict, account.email)
    step = steady()
    for _ in range(3):
        assert answer(strict, session, code=code(account.secret, step + 7)).status_code == 400
    locked = login(strict, account.email)
    assert locked.status_code == 429
    assert "retry-after" in locked.headers


def test_a_correct_password_does_not_forget_earlier_wrong_codes(
    make_server: ServerFactory,
) -> None:
    strict = make_server(throttle={"login_failures": 3})
    account = enrolled(strict)
    step = steady()
    for _ in range(3):
        session = challenge(strict, account.email)
        assert answer(strict, session, code=code(account.secret, step + 7)).status_code == 400
    assert login(strict, account.email).status_code == 429
