"""Code budgets that outlive each code (SECURITY.md class 9, issue 9 item 2).

One code dies after a few wrong tries, but a new one can be asked for; so wrong tries
are also counted per user and purpose across codes, and at the budget the purpose locks
until an administrator (or, for a reset, the owner signing in) acts. Codes are re-issued
only so often per user and per address, and the public answers stay the same whether an
account exists, is locked or was refused a code.

The server here allows 3 wrong tries per code, 5 per day across codes, 3 codes per user
and purpose a day and 4 messages per address a day.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
NEW_PASSWORD = "quiet river 7 lantern"


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        throttle={
            "code_attempts": 3,
            "code_wrong_tries": "5/day",
            "codes_per_user": "3/day",
            "mails_per_address": "4/day",
        }
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in(server: AuthgateServer) -> tuple[str, dict[str, str]]:
    """A confirmed account made by the admin; its sub and bearer header."""
    address = unique_email("owner")
    with server.admin_client() as admin:
        created = admin.post("/admin/users", json={"email": address, "password": PASSWORD})
    assert created.status_code == 201, created.text
    with server.public_client() as client:
        tokens = client.post("/v1/login", json={"username": address, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return str(created.json()["sub"]), bearer(tokens.json()["access_token"])


def change_email(server: AuthgateServer, headers: dict[str, str], to: str) -> httpx.Response:
    with server.public_client() as client:
        return client.patch("/v1/me", json={"email": to}, headers=headers)


def verify(server: AuthgateServer, headers: dict[str, str], code: str) -> httpx.Response:
    with server.public_client() as client:
        return client.post("/v1/me/verify-email", json={"code": code}, headers=headers)


def code_mailed(server: AuthgateServer, to: str, count: int) -> str:
    code = server.wait_for_mail(to, count).code
    assert code is not None
    return code


def audit(server: AuthgateServer, **filters: str) -> list[dict[str, Any]]:
    with server.admin_client() as admin:
        found = admin.get("/admin/audit", params={"limit": "500", **filters})
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def lock_email_change(server: AuthgateServer, headers: dict[str, str], victim: str) -> str:
    """Spend the wrong-try budget over two codes; return the second, never-tried-right code."""
    assert change_email(server, headers, victim).status_code == 200
    first = code_mailed(server, victim, 1)
    for _ in range(3):
        assert verify(server, headers, wrong(first)).status_code == 400
    assert change_email(server, headers, victim).status_code == 200
    second = code_mailed(server, victim, 2)
    for _ in range(2):
        assert verify(server, headers, wrong(second)).status_code == 400
    return second


# -- wrong tries across codes ------------------------------------------------------------


def test_wrong_codes_across_reissued_codes_lock_the_email_change(server: AuthgateServer) -> None:
    _, headers = signed_in(server)
    victim = unique_email("victim")
    second = lock_email_change(server, headers, victim)

    answer = verify(server, headers, second)

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_code"
    assert "locked" in answer.json()["message"]
    with server.public_client() as client:
        me = client.get("/v1/me", headers=headers).json()
    assert me["email"] != victim


def test_a_locked_email_change_mails_the_address_no_more_codes(server: AuthgateServer) -> None:
    _, headers = signed_in(server)
    victim = unique_email("victim")
    lock_email_change(server, headers, victim)

    again = change_email(server, headers, victim)

    assert again.status_code == 429
    assert again.json()["error"] == "too_many_requests"
    assert len(server.mails(victim)) == 2


def test_an_admin_unlock_lets_the_owner_verify_an_address_again(server: AuthgateServer) -> None:
    sub, headers = signed_in(server)
    victim = unique_email("victim")
    lock_email_change(server, headers, victim)
    mine = unique_email("mine")

    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/unlock").status_code == 200
    assert change_email(server, headers, mine).status_code == 200

    assert verify(server, headers, code_mailed(server, mine, 1)).status_code == 200


def test_wrong_codes_and_the_lock_are_in_the_audit_log(server: AuthgateServer) -> None:
    sub, headers = signed_in(server)
    lock_email_change(server, headers, unique_email("victim"))

    wrong_tries = audit(server, sub=sub, event="code_wrong")
    locks = audit(server, sub=sub, event="code_purpose_locked")

    assert len(wrong_tries) == 5
    assert sorted(e["detail"]["wrong_in_window"] for e in wrong_tries) == [1, 2, 3, 4, 5]
    assert [e["detail"]["purpose"] for e in locks] == ["verify_email"]


# -- sign-up confirmation and password reset: same answers, locked or not ----------------


def test_a_locked_signup_confirmation_answers_like_an_unknown_user(
    server: AuthgateServer,
) -> None:
    address = unique_email("pending")
    with server.public_client() as client:
        assert (
            client.post("/v1/signup", json={"email": address, "password": PASSWORD}).status_code
            == 201
        )
        first = code_mailed(server, address, 1)
        for _ in range(3):
            client.post("/v1/signup/confirm", json={"username": address, "code": wrong(first)})
        assert client.post("/v1/signup/resend", json={"username": address}).status_code == 202
        second = code_mailed(server, address, 2)
        for _ in range(2):
            client.post("/v1/signup/confirm", json={"username": address, "code": wrong(second)})

        locked = client.post("/v1/signup/confirm", json={"username": address, "code": second})
        unknown = client.post(
            "/v1/signup/confirm", json={"username": unique_email("nobody"), "code": second}
        )
        resent = client.post("/v1/signup/resend", json={"username": address})
        resent_unknown = client.post("/v1/signup/resend", json={"username": unique_email("no")})

    assert (locked.status_code, locked.json()) == (unknown.status_code, unknown.json())
    assert (resent.status_code, resent.json()) == (
        resent_unknown.status_code,
        resent_unknown.json(),
    )
    assert len(server.mails(address)) == 2


def test_a_locked_reset_is_unlocked_by_the_owner_signing_in(server: AuthgateServer) -> None:
    address = unique_email("forgetful")
    with server.admin_client() as admin:
        admin.post("/admin/users", json={"email": address, "password": PASSWORD})
    with server.public_client() as client:
        for round_ in (1, 2):
            client.post("/v1/password/forgot", json={"username": address})
            code = code_mailed(server, address, round_)
            for _ in range(3 if round_ == 1 else 2):
                body = {"username": address, "code": wrong(code), "new_password": NEW_PASSWORD}
                client.post("/v1/password/reset", json=body)
        refused = client.post("/v1/password/forgot", json={"username": address})
        signed_in = client.post("/v1/login", json={"username": address, "password": PASSWORD})
        client.post("/v1/password/forgot", json={"username": address})
        fresh = code_mailed(server, address, 3)
        body = {"username": address, "code": fresh, "new_password": NEW_PASSWORD}
        reset = client.post("/v1/password/reset", json=body)

    assert refused.status_code == 202
    assert signed_in.status_code == 200
    assert reset.status_code == 200, reset.text
    assert server.wait_for_mail(address, 4).code is None  # the password-changed notice
    assert [m.code is not None for m in server.mails(address)] == [True, True, True, False]


# -- re-issue limits ---------------------------------------------------------------------


def test_codes_are_reissued_only_so_often_per_user(server: AuthgateServer) -> None:
    address = unique_email("resender")
    with server.public_client() as client:
        client.post("/v1/signup", json={"email": address, "password": PASSWORD})
        answers = [client.post("/v1/signup/resend", json={"username": address}) for _ in range(4)]

    assert {(a.status_code, a.text) for a in answers} == {(answers[0].status_code, answers[0].text)}
    server.wait_for_mail(address, 3)
    assert len(server.mails(address)) == 3
    refusals = audit(server, event="code_refused", sub=_sub_of(server, address))
    assert {e["detail"]["reason"] for e in refusals} == {"user_limit"}


def _sub_of(server: AuthgateServer, address: str) -> str:
    with server.admin_client() as admin:
        found = admin.get("/admin/users", params={"email_prefix": address}).json()["items"]
    return str(found[0]["sub"])


def test_one_address_is_mailed_only_so_often_across_accounts(server: AuthgateServer) -> None:
    victim = unique_email("inbox")
    with server.public_client() as client:
        answers = [
            client.post(
                "/v1/signup",
                json={
                    "email": victim,
                    "password": PASSWORD,
                    "username": f"spam-{secrets.token_hex(4)}",
                },
            )
            for _ in range(6)
        ]

    assert {a.status_code for a in answers} == {201}
    server.wait_for_mail(victim, 4)
    assert len(server.mails(victim)) == 4
