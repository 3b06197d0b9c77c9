"""Self-service account flows, as a client sees them: password reset, profile, email
change, password change, deletion, bearer handling and malformed requests."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer, Mail

PASSWORD = "lemon tree 4 harbour"
NEW_PASSWORD = "quiet river 7 lantern"
WEAK_PASSWORD = "short"
SIX_DIGITS = re.compile(r"^\d{6}$")


# -- helpers ---------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A machine-readable JSON error, never a stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def next_mail(server: AuthgateServer, to: str, action: Callable[[], object]) -> Mail:
    """Run `action` and return the one new message it mails to `to`."""
    before = len(server.mails(to))
    action()
    return server.wait_for_mail(to, count=before + 1)


def signup(server: AuthgateServer, client: httpx.Client, address: str) -> str:
    """Register without confirming; return the sub."""
    created = client.post("/v1/signup", json={"email": address, "password": PASSWORD})
    assert created.status_code == 201, created.text
    server.wait_for_mail(address)
    return str(created.json()["sub"])


def signup_and_confirm(server: AuthgateServer, client: httpx.Client, address: str) -> str:
    created = client.post("/v1/signup", json={"email": address, "password": PASSWORD})
    assert created.status_code == 201, created.text
    code = server.wait_for_mail(address).code
    confirmed = client.post("/v1/signup/confirm", json={"username": address, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    return str(created.json()["sub"])


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/v1/login", json={"username": username, "password": password})


def tokens_of(client: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = login(client, username, password)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def request_reset_code(server: AuthgateServer, client: httpx.Client, address: str) -> str:
    mail = next_mail(
        server, address, lambda: client.post("/v1/password/forgot", json={"username": address})
    )
    assert mail.code is not None, mail.body
    return mail.code


def reset(
    client: httpx.Client, username: str, code: str, new_password: str = NEW_PASSWORD
) -> httpx.Response:
    return client.post(
        "/v1/password/reset",
        json={"username": username, "code": code, "new_password": new_password},
    )


def wrong(code: str) -> str:
    """A well-formed code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def keys_of(value: object) -> Iterator[str]:
    """Every key at any depth of a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from keys_of(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from keys_of(inner)


@pytest.fixture(scope="module")
def short_codes_server(make_server: ServerFactory) -> AuthgateServer:
    """A server whose reset codes live two seconds."""
    return make_server(user_pool={"reset_code_ttl": "2s"})


# -- forgot password -------------------------------------------------------------------


def test_forgot_password_answers_alike_for_confirmed_unknown_and_unconfirmed_users(
    server: AuthgateServer,
) -> None:
    confirmed, unconfirmed, unknown = (unique_email(p) for p in ("conf", "unconf", "nobody"))
    with server.public_client() as client:
        signup_and_confirm(server, client, confirmed)
        signup(server, client, unconfirmed)
        answers = [
            client.post("/v1/password/forgot", json={"username": name})
            for name in (confirmed, unknown, unconfirmed)
        ]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[0].json() == answers[1].json() == answers[2].json()


def test_forgot_password_mails_a_reset_code_only_to_a_confirmed_user(
    server: AuthgateServer,
) -> None:
    confirmed, unconfirmed, unknown = (unique_email(p) for p in ("conf", "unconf", "nobody"))
    with server.public_client() as client:
        signup_and_confirm(server, client, confirmed)
        signup(server, client, unconfirmed)
        client.post("/v1/password/forgot", json={"username": unknown})
        client.post("/v1/password/forgot", json={"username": unconfirmed})
        client.post("/v1/password/forgot", json={"username": confirmed})
    reset_mail = server.wait_for_mail(confirmed, count=2)
    assert "reset" in reset_mail.subject.lower()
    assert reset_mail.code is not None and SIX_DIGITS.match(reset_mail.code)
    # Mail leaves in request order: by now the earlier requests would have mailed too.
    assert len(server.mails(unconfirmed)) == 1  # only its sign-up code
    assert server.mails(unknown) == []


# -- password reset --------------------------------------------------------------------


def test_reset_with_the_right_code_replaces_the_password(server: AuthgateServer) -> None:
    address = unique_email("reset")
    with server.public_client(local_address="127.0.0.2") as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        answer = reset(client, address, code)
        assert answer.status_code == 200, answer.text
        assert login(client, address, NEW_PASSWORD).status_code == 200
        assert_error(login(client, address, PASSWORD), 401, "invalid_credentials")


def test_reset_mails_a_password_changed_notice(server: AuthgateServer) -> None:
    address = unique_email("notice")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        notice = next_mail(server, address, lambda: reset(client, address, code))
    assert "password was changed" in notice.subject.lower()
    assert notice.code is None


def test_reset_revokes_every_existing_sign_in(server: AuthgateServer) -> None:
    address = unique_email("revoke")
    with server.public_client(local_address="127.0.0.3") as client:
        signup_and_confirm(server, client, address)
        first = tokens_of(client, address)
        second = tokens_of(client, address)
        code = request_reset_code(server, client, address)
        assert reset(client, address, code).status_code == 200
        for old in (first, second):
            refreshed = client.post(
                "/v1/token/refresh", json={"refresh_token": old["refresh_token"]}
            )
            assert_error(refreshed, 401, "invalid_token")
            assert_error(
                client.get("/v1/me", headers=bearer(old["access_token"])), 401, "invalid_token"
            )
        fresh = tokens_of(client, address, NEW_PASSWORD)
        assert client.get("/v1/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_reset_code_cannot_be_used_twice(server: AuthgateServer) -> None:
    address = unique_email("twice")
    with server.public_client(local_address="127.0.0.4") as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        assert reset(client, address, code).status_code == 200
        again = reset(client, address, code, "another fine 9 password")
        assert_error(again, 400, "invalid_code")
        assert login(client, address, NEW_PASSWORD).status_code == 200


def test_reset_with_a_wrong_code_is_invalid_code_and_keeps_the_password(
    server: AuthgateServer,
) -> None:
    address = unique_email("wrongcode")
    with server.public_client(local_address="127.0.0.5") as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        assert_error(reset(client, address, wrong(code)), 400, "invalid_code")
        assert login(client, address, PASSWORD).status_code == 200


def test_reset_for_an_unknown_user_answers_exactly_like_a_wrong_code(
    server: AuthgateServer,
) -> None:
    address = unique_email("known")
    with server.public_client(local_address="127.0.0.6") as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        wrong_code = reset(client, address, wrong(code))
        unknown_user = reset(client, unique_email("nobody"), code)
    assert_error(unknown_user, 400, "invalid_code")
    assert unknown_user.status_code == wrong_code.status_code
    assert unknown_user.json() == wrong_code.json()


def test_five_wrong_codes_kill_the_reset_code(server: AuthgateServer) -> None:
    address = unique_email("guess")
    with server.public_client(local_address="127.0.0.7") as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        for _ in range(5):
            assert_error(reset(client, address, wrong(code)), 400, "invalid_code")
        assert_error(reset(client, address, code), 400, "invalid_code")
        assert login(client, address, PASSWORD).status_code == 200


def test_four_wrong_codes_leave_the_reset_code_usable(server: AuthgateServer) -> None:
    address = unique_email("guess4")
    with server.public_client(local_address="127.0.0.8") as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        for _ in range(4):
            assert_error(reset(client, address, wrong(code)), 400, "invalid_code")
        assert reset(client, address, code).status_code == 200


def test_reset_with_a_weak_password_is_refused_without_spending_the_code(
    server: AuthgateServer,
) -> None:
    address = unique_email("weak")
    with server.public_client(local_address="127.0.0.9") as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        body = assert_error(reset(client, address, code, WEAK_PASSWORD), 400, "invalid_password")
        assert "min_length" in body["rules"]
        assert reset(client, address, code).status_code == 200
        assert login(client, address, NEW_PASSWORD).status_code == 200


def test_reset_code_expires_after_its_ttl(short_codes_server: AuthgateServer) -> None:
    server = short_codes_server
    address = unique_email("expire")
    with server.public_client(local_address="127.0.0.10") as client:
        signup_and_confirm(server, client, address)
        code = request_reset_code(server, client, address)
        time.sleep(2.5)
        assert_error(reset(client, address, code), 400, "invalid_code")
        assert login(client, address, PASSWORD).status_code == 200


# -- the profile -----------------------------------------------------------------------


def test_me_shows_the_profile_and_never_a_password_hash(server: AuthgateServer) -> None:
    address = unique_email("me")
    group = f"readers-{address.split('@')[0]}"
    with server.public_client() as client, server.admin_client() as admin:
        sub = signup_and_confirm(server, client, address)
        assert admin.post("/admin/groups", json={"name": group}).status_code == 201
        assert admin.put(f"/admin/groups/{group}/members/{sub}").status_code == 204
        tokens = tokens_of(client, address)
        answer = client.get("/v1/me", headers=bearer(tokens["access_token"]))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    me = answer.json()
    assert me["sub"] == sub
    assert me["username"] == address
    assert me["email"] == address
    assert me["email_verified"] is True
    assert me["groups"] == [group]
    assert me["attributes"] == {}
    offending = [k for k in keys_of(me) if "hash" in k.lower() or "password" in k.lower()]
    assert offending == []
    assert "argon2" not in answer.text


def test_patch_me_sets_a_standard_attribute(server: AuthgateServer) -> None:
    address = unique_email("patch")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        headers = bearer(tokens_of(client, address)["access_token"])
        patched = client.patch(
            "/v1/me", json={"attributes": {"given_name": "Ada"}}, headers=headers
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["attributes"] == {"given_name": "Ada"}
        assert client.get("/v1/me", headers=headers).json()["attributes"] == {"given_name": "Ada"}


def test_patch_me_refuses_an_undeclared_attribute_and_changes_nothing(
    server: AuthgateServer,
) -> None:
    address = unique_email("undeclared")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        headers = bearer(tokens_of(client, address)["access_token"])
        client.patch("/v1/me", json={"attributes": {"given_name": "Ada"}}, headers=headers)
        before = client.get("/v1/me", headers=headers).json()
        refused = client.patch(
            "/v1/me",
            json={"attributes": {"given_name": "Grace", "shoe_size": "42"}},
            headers=headers,
        )
        body = assert_error(refused, 400, "invalid_attribute")
        assert body["attribute"] == "shoe_size"
        assert "shoe_size" in body["message"]
        after = client.get("/v1/me", headers=headers).json()
    assert after["attributes"] == {"given_name": "Ada"}
    assert after == before


# -- email change ----------------------------------------------------------------------


def test_email_change_waits_for_verification_and_mails_the_new_address(
    server: AuthgateServer,
) -> None:
    address, new_address = unique_email("old"), unique_email("new")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        headers = bearer(tokens_of(client, address)["access_token"])
        patched = client.patch("/v1/me", json={"email": new_address}, headers=headers)
        assert patched.status_code == 200, patched.text
        assert patched.json()["email"] == address
        assert patched.json()["pending_email"] == new_address
        assert client.get("/v1/me", headers=headers).json()["email"] == address
    mail = server.wait_for_mail(new_address)
    assert "verify" in mail.subject.lower()
    assert mail.code is not None and SIX_DIGITS.match(mail.code)


def test_patch_me_with_attributes_and_email_applies_both(server: AuthgateServer) -> None:
    address, new_address = unique_email("both"), unique_email("bothnew")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        headers = bearer(tokens_of(client, address)["access_token"])
        patched = client.patch(
            "/v1/me",
            json={"attributes": {"given_name": "Ada"}, "email": new_address},
            headers=headers,
        )
    assert patched.status_code == 200, patched.text
    assert patched.json()["attributes"] == {"given_name": "Ada"}
    assert patched.json()["email"] == address
    assert patched.json()["pending_email"] == new_address
    assert server.wait_for_mail(new_address).code is not None


def test_verify_email_with_the_mailed_code_switches_the_email(server: AuthgateServer) -> None:
    address, new_address = unique_email("old"), unique_email("new")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        headers = bearer(tokens_of(client, address)["access_token"])
        client.patch("/v1/me", json={"email": new_address}, headers=headers)
        code = server.wait_for_mail(new_address).code
        verified = client.post("/v1/me/verify-email", json={"code": code}, headers=headers)
        assert verified.status_code == 200, verified.text
        assert verified.json()["email"] == new_address
        assert verified.json()["email_verified"] is True
        assert verified.json()["pending_email"] is None
        me = client.get("/v1/me", headers=headers).json()
        assert me["email"] == new_address
        assert me["username"] == address
        assert login(client, address, PASSWORD).status_code == 200


def test_verify_email_with_a_wrong_code_is_invalid_code(server: AuthgateServer) -> None:
    address, new_address = unique_email("old"), unique_email("new")
    with server.public_client(local_address="127.0.0.11") as client:
        signup_and_confirm(server, client, address)
        headers = bearer(tokens_of(client, address)["access_token"])
        client.patch("/v1/me", json={"email": new_address}, headers=headers)
        code = server.wait_for_mail(new_address).code
        assert code is not None
        refused = client.post("/v1/me/verify-email", json={"code": wrong(code)}, headers=headers)
        assert_error(refused, 400, "invalid_code")
        me = client.get("/v1/me", headers=headers).json()
    assert me["email"] == address
    assert me["pending_email"] == new_address


# -- password change -------------------------------------------------------------------


def change_password(
    client: httpx.Client, access_token: str, current: str, new: str
) -> httpx.Response:
    return client.post(
        "/v1/me/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(access_token),
    )


def test_change_password_with_a_wrong_current_password_is_refused(
    server: AuthgateServer,
) -> None:
    address = unique_email("chwrong")
    with server.public_client(local_address="127.0.0.12") as client:
        signup_and_confirm(server, client, address)
        token = tokens_of(client, address)["access_token"]
        refused = change_password(client, token, "not my 5 password", NEW_PASSWORD)
        assert_error(refused, 401, "invalid_credentials")
        assert login(client, address, PASSWORD).status_code == 200


def test_change_password_to_a_weak_password_is_refused(server: AuthgateServer) -> None:
    address = unique_email("chweak")
    with server.public_client(local_address="127.0.0.13") as client:
        signup_and_confirm(server, client, address)
        token = tokens_of(client, address)["access_token"]
        refused = change_password(client, token, PASSWORD, WEAK_PASSWORD)
        body = assert_error(refused, 400, "invalid_password")
        assert "min_length" in body["rules"]
        assert login(client, address, PASSWORD).status_code == 200


def test_change_password_replaces_the_password(server: AuthgateServer) -> None:
    address = unique_email("chok")
    with server.public_client(local_address="127.0.0.14") as client:
        signup_and_confirm(server, client, address)
        token = tokens_of(client, address)["access_token"]
        changed = change_password(client, token, PASSWORD, NEW_PASSWORD)
        assert changed.status_code == 200, changed.text
        assert login(client, address, NEW_PASSWORD).status_code == 200
        assert_error(login(client, address, PASSWORD), 401, "invalid_credentials")


# -- account deletion ------------------------------------------------------------------


def delete_me(client: httpx.Client, access_token: str, password: str) -> httpx.Response:
    return client.request(
        "DELETE", "/v1/me", json={"password": password}, headers=bearer(access_token)
    )


def test_delete_me_with_a_wrong_password_keeps_the_account(server: AuthgateServer) -> None:
    address = unique_email("delwrong")
    with server.public_client(local_address="127.0.0.15") as client:
        signup_and_confirm(server, client, address)
        token = tokens_of(client, address)["access_token"]
        assert_error(delete_me(client, token, "not my 5 password"), 401, "invalid_credentials")
        assert client.get("/v1/me", headers=bearer(token)).status_code == 200
        assert login(client, address, PASSWORD).status_code == 200


def test_delete_me_with_the_password_deletes_the_account(server: AuthgateServer) -> None:
    address = unique_email("delok")
    with server.public_client(local_address="127.0.0.16") as client:
        signup_and_confirm(server, client, address)
        token = tokens_of(client, address)["access_token"]
        deleted = delete_me(client, token, PASSWORD)
        assert deleted.status_code == 204
        assert deleted.content == b""
        assert_error(login(client, address, PASSWORD), 401, "invalid_credentials")
        assert_error(client.get("/v1/me", headers=bearer(token)), 401, "invalid_token")


def test_delete_me_ends_the_refresh_tokens_of_the_account(server: AuthgateServer) -> None:
    address = unique_email("delrefresh")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        tokens = tokens_of(client, address)
        assert delete_me(client, tokens["access_token"], PASSWORD).status_code == 204
        refreshed = client.post(
            "/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert_error(refreshed, 401, "invalid_token")


def test_a_deleted_username_can_sign_up_again(server: AuthgateServer) -> None:
    address = unique_email("again")
    with server.public_client(local_address="127.0.0.17") as client:
        old_sub = signup_and_confirm(server, client, address)
        token = tokens_of(client, address)["access_token"]
        assert delete_me(client, token, PASSWORD).status_code == 204
        mails_before = len(server.mails(address))
        created = client.post("/v1/signup", json={"email": address, "password": NEW_PASSWORD})
        assert created.status_code == 201, created.text
        assert created.json()["sub"] != old_sub
        mail = server.wait_for_mail(address, count=mails_before + 1)
        assert mail.code is not None, mail
        confirmed = client.post("/v1/signup/confirm", json={"username": address, "code": mail.code})
        assert confirmed.status_code == 200
        assert login(client, address, NEW_PASSWORD).status_code == 200


# -- bearer handling -------------------------------------------------------------------


def test_bearer_scheme_is_case_insensitive(server: AuthgateServer) -> None:
    address = unique_email("lower")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        token = tokens_of(client, address)["access_token"]
        answer = client.get("/v1/me", headers={"Authorization": f"bearer {token}"})
    assert answer.status_code == 200
    assert answer.json()["email"] == address


def test_a_missing_authorization_header_is_refused(server: AuthgateServer) -> None:
    with server.public_client() as client:
        assert_error(client.get("/v1/me"), 401, "unauthorized")


def test_a_basic_authorization_header_is_refused(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.get("/v1/me", headers={"Authorization": "Basic xyz"})
    assert answer.status_code == 401
    assert "Traceback" not in answer.text
    assert isinstance(answer.json()["error"], str)


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda token: f"Bearer {token[:20]} {token[20:]}", id="space-inside"),
        pytest.param(lambda token: f"Bearer {token} extra", id="trailing-word"),
        pytest.param(lambda token: f"Bearer\t{token}", id="tab-separator"),
        pytest.param(lambda token: f"Bearer {token}!", id="trailing-garbage"),
        pytest.param(lambda token: f"Bearer {token}x", id="tampered"),
        pytest.param(lambda token: "Bearer", id="scheme-only"),
        pytest.param(lambda token: "Bearer not-a-jwt", id="not-a-jwt"),
        pytest.param(lambda token: "Bearer a.b.c", id="three-junk-parts"),
        pytest.param(lambda token: "Bearer ....", id="dots"),
        pytest.param(lambda token: "Bearer %00", id="percent"),
    ],
)
def test_malformed_bearer_tokens_are_refused(
    server: AuthgateServer, make_header: Callable[[str], str]
) -> None:
    address = unique_email("garbage")
    with server.public_client() as client:
        signup_and_confirm(server, client, address)
        token = tokens_of(client, address)["access_token"]
        answer = client.get("/v1/me", headers={"Authorization": make_header(token)})
    assert answer.status_code == 401, answer.text
    assert "Traceback" not in answer.text
    assert isinstance(answer.json()["error"], str)
    assert "sub" not in answer.json()


# -- robustness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[" * 60_000, id="nested-arrays-under-size-cap"),
        pytest.param('{"a":' * 12_000, id="nested-objects-under-size-cap"),
        pytest.param("[" * 30_000 + "]" * 30_000, id="balanced-nested-arrays"),
    ],
)
def test_deeply_nested_json_is_a_400(server: AuthgateServer, raw: str) -> None:
    with server.public_client() as client:
        answer = client.post("/v1/login", content=raw, headers={"Content-Type": "application/json"})
    assert_error(answer, 400, "invalid_request")


def test_deeply_nested_json_over_the_size_cap_is_refused_not_a_500(
    server: AuthgateServer,
) -> None:
    with server.public_client() as client:
        answer = client.post(
            "/v1/login", content="[" * 100_000, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code in (400, 413), answer.text
    assert "Traceback" not in answer.text
    assert answer.json()["error"] in ("invalid_request", "body_too_large")


def assert_too_large(answer: httpx.Response) -> None:
    assert answer.status_code in (400, 413), answer.text
    assert "Traceback" not in answer.text
    assert answer.json()["error"] == "body_too_large"


def test_a_body_over_64_kib_is_refused(server: AuthgateServer) -> None:
    padding = "x" * (64 * 1024)
    with server.public_client() as client:
        answer = client.post(
            "/v1/login", json={"username": "someone@example.com", "password": padding}
        )
    assert_too_large(answer)


def test_a_chunked_body_over_64_kib_is_refused(server: AuthgateServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "someone@example.com", "password": "'
        for _ in range(17):
            yield b"x" * 4096
        yield b'"}'

    with server.public_client() as client:
        answer = client.post(
            "/v1/login", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert_too_large(answer)


def test_an_unknown_path_is_a_json_404(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.get("/v1/no-such-thing")
    assert_error(answer, 404, "not_found")


def test_a_wrong_method_is_a_json_405(server: AuthgateServer) -> None:
    with server.public_client() as client:
        answer = client.get("/v1/login")
    assert_error(answer, 405, "method_not_allowed")


def test_a_form_body_with_a_repeated_key_is_refused(server: AuthgateServer) -> None:
    address = unique_email("form")
    with server.public_client(local_address="127.0.0.18") as client:
        signup_and_confirm(server, client, address)
        answer = client.post(
            "/v1/login",
            content=urlencode(
                [("username", address), ("password", "wrong"), ("password", PASSWORD)]
            ),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    body = assert_error(answer, 400, "invalid_request")
    assert body.get("field") == "password"
