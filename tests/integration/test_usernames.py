"""Which usernames may exist (issue 9 items 3, 7 and 9), as a client sees it.

A username is letters, digits and `.`, `_`, `-`, `@`; one with an `@` must be the
account's own address; it may not mix writing systems within a word nor look like an
existing one (TR39 skeleton). A look-alike of a taken name is answered like a taken name,
so sign-up still tells nobody which names exist.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
CYRILLIC_O = "\u043e"


def signup(server: AuthgateServer, email: str, username: str | None = None) -> httpx.Response:
    body = {"email": email, "password": PASSWORD}
    if username is not None:
        body["username"] = username
    with server.public_client() as client:
        return client.post("/v1/signup", json=body)


def confirm(server: AuthgateServer, username: str, email: str) -> httpx.Response:
    code = server.wait_for_mail(email).code
    with server.public_client() as client:
        return client.post("/v1/signup/confirm", json={"username": username, "code": code})


def login(server: AuthgateServer, username: str) -> httpx.Response:
    with server.public_client() as client:
        return client.post("/v1/login", json={"username": username, "password": PASSWORD})


def assert_invalid_username(answer: httpx.Response) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_username"
    assert answer.json()["field"] == "username"


def token(length: int = 6) -> str:
    return secrets.token_hex(length // 2)


# -- item 3: a username that looks like an email is the account's own ------------------


def test_someone_elses_email_as_username_is_refused(server: AuthgateServer) -> None:
    victim = unique_email("victim")

    answer = signup(server, unique_email("attacker"), username=victim)

    assert_invalid_username(answer)


def test_the_owner_of_an_address_refused_as_a_username_can_still_sign_up(
    server: AuthgateServer,
) -> None:
    victim = unique_email("victim")
    signup(server, unique_email("attacker"), username=victim)

    assert signup(server, victim).status_code == 201
    assert confirm(server, victim, victim).status_code == 200
    assert login(server, victim).status_code == 200


def test_an_admin_may_not_give_someone_elses_email_as_a_username(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        answer = admin.post(
            "/admin/users",
            json={
                "email": unique_email("holder"),
                "username": unique_email("other"),
                "password": PASSWORD,
            },
        )

    assert_invalid_username(answer)


# -- item 7: no requester's words in mail to an unverified address ----------------------


@pytest.mark.parametrize(
    "username",
    [
        "your account is locked - restore it at http://evil.test",
        "restore:evil.test",
        "a/b",
        "name\u00a0with\u00a0nbsp",
        "plus+sign",
        "tab\tname",
    ],
)
def test_a_username_with_spaces_or_other_punctuation_is_refused_and_mails_nothing(
    server: AuthgateServer, username: str
) -> None:
    victim = unique_email("victim")

    answer = signup(server, victim, username=username)

    assert answer.status_code == 400
    assert answer.json()["error"] in ("invalid_username", "invalid_request")
    assert server.mails(victim) == []


def test_the_confirmation_mail_does_not_carry_the_chosen_username(
    server: AuthgateServer,
) -> None:
    victim = unique_email("victim")
    username = f"restore-at-evil.test-{token()}"

    assert signup(server, victim, username=username).status_code == 201

    mail = server.wait_for_mail(victim)
    assert username not in mail.body
    assert username not in mail.subject
    assert mail.code is not None


def test_letters_of_any_single_script_digits_and_dot_dash_underscore_are_accepted(
    server: AuthgateServer,
) -> None:
    address = unique_email("named")
    username = f"jörg_мария-{token()}.x"  # Latin word and Cyrillic word, each of one script

    assert signup(server, address, username=username).status_code == 201
    assert confirm(server, username, address).status_code == 200


# -- item 9: look-alike usernames ----------------------------------------------------------


def test_a_username_mixing_scripts_in_a_word_is_refused(server: AuthgateServer) -> None:
    answer = signup(server, unique_email("mixed"), username=f"supp{CYRILLIC_O}rt-{token()}")

    assert_invalid_username(answer)


def test_an_email_login_mixing_scripts_is_refused(server: AuthgateServer) -> None:
    address = f"supp{CYRILLIC_O}rt-{token()}@example.com"

    answer = signup(server, address)

    assert_invalid_username(answer)


@pytest.mark.parametrize(
    ("original", "lookalike"),
    [
        ("paypal-{t}", "paypa1-{t}"),  # TR39 puts l and 1 in one class
        ("ape-{t}", "\u0430\u0440\u0435-{t}"),  # Cyrillic а р е: one script, looks Latin
        ("support-{t}", "SUPPORT-{t}"),  # case never made a second name
    ],
)
def test_a_lookalike_of_a_taken_username_answers_like_a_taken_one_and_creates_nothing(
    server: AuthgateServer, original: str, lookalike: str
) -> None:
    t = token()
    owner = unique_email("owner")
    assert signup(server, owner, username=original.format(t=t)).status_code == 201
    confirm(server, original.format(t=t), owner)
    copycat = unique_email("copycat")

    answer = signup(server, copycat, username=lookalike.format(t=t))

    assert answer.status_code == 201
    assert set(answer.json()) == {"sub", "confirmed"}
    notice = server.wait_for_mail(owner, 2)
    assert notice.code is None
    assert server.mails(copycat) == []
    with server.admin_client() as admin:
        found = admin.get("/admin/users", params={"email_prefix": copycat}).json()["items"]
    assert found == []


def test_an_admin_gets_a_conflict_for_a_lookalike_username(server: AuthgateServer) -> None:
    t = token()
    with server.admin_client() as admin:
        first = admin.post(
            "/admin/users",
            json={"email": unique_email("a"), "username": f"ops-{t}", "password": PASSWORD},
        )
        second = admin.post(
            "/admin/users",
            json={"email": unique_email("b"), "username": f"0ps-{t}", "password": PASSWORD},
        )

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"] == "already_exists"
