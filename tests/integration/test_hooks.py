"""Lifecycle hooks in authgate's own format, against a real receiver on loopback that
checks every request's Standard Webhooks signature with standardwebhooks' own verify.

Two servers share the receiver: one whose hooks say `on_error: deny`, one `allow`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.browser import Browser
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.hook_receiver import (
    Answer,
    HookReceiver,
    Received,
    hooks_config,
    running_receiver,
)
from tests.integration.oauth_support import code_tokens, person, web_app
from tests.integration.test_login import claims_of, create_user

PASSWORD = "lemon tree 4 harbour"
NEW_PASSWORD = "quiet river 7 lantern"
DEFAULTS = {
    "pre_signup": Answer({"allow": True}),
    "pre_token": Answer({}),
    "user_migration": Answer({"found": False}),
    "custom_message": Answer({}),
    "post_confirmation": Answer({}),
    "post_authentication": Answer({}),
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[HookReceiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(autouse=True)
def default_replies(receiver: HookReceiver) -> None:
    for path, answer in DEFAULTS.items():
        receiver.reply(f"/{path}", answer)


@pytest.fixture(scope="module")
def deny(make_server: ServerFactory, receiver: HookReceiver) -> AuthgateServer:
    return make_server(hooks=hooks_config(receiver, "deny"))


@pytest.fixture(scope="module")
def allow(make_server: ServerFactory, receiver: HookReceiver) -> AuthgateServer:
    return make_server(hooks=hooks_config(receiver, "allow"))


def signup(server: AuthgateServer, email: str, **extra: Any) -> httpx.Response:
    with server.public_client() as client:
        return client.post("/v1/signup", json={"email": email, "password": PASSWORD, **extra})


def login(server: AuthgateServer, username: str, password: str = PASSWORD) -> httpx.Response:
    with server.public_client() as client:
        return client.post("/v1/login", json={"username": username, "password": password})


def users_named(server: AuthgateServer, email: str) -> list[dict[str, Any]]:
    with server.admin_client() as admin:
        found = admin.get("/admin/users", params={"email_prefix": email})
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def calls_about(receiver: HookReceiver, hook: str, email: str) -> list[Received]:
    return [r for r in receiver.calls(f"/{hook}") if email in json.dumps(r.payload)]


def wait_about(receiver: HookReceiver, hook: str, email: str, count: int = 1) -> list[Received]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = calls_about(receiver, hook, email)
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{count} {hook} calls about {email} expected")


def confirm(server: AuthgateServer, email: str) -> None:
    code = server.wait_for_mail(email).code
    with server.public_client() as client:
        done = client.post("/v1/signup/confirm", json={"username": email, "code": code})
    assert done.status_code == 200, done.text


# -- signing ---------------------------------------------------------------------------


def test_every_call_is_signed_per_standard_webhooks(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("signed")
    assert signup(deny, email).status_code == 201

    (call,) = wait_about(receiver, "pre_signup", email)
    assert call.verified
    assert call.headers["webhook-id"].startswith("msg_")
    assert call.headers["webhook-signature"].startswith("v1,")
    assert abs(int(call.headers["webhook-timestamp"]) - time.time()) < 30


# -- pre_signup ------------------------------------------------------------------------


def test_pre_signup_sees_the_user_and_the_metadata_but_no_password(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("presignup")
    assert signup(deny, email, client_metadata={"plan": "trial"}).status_code == 201

    (call,) = wait_about(receiver, "pre_signup", email)
    assert call.payload["type"] == "pre_signup"
    assert call.payload["source"] == "signup"
    assert call.payload["user"]["email"] == email
    assert call.payload["client_metadata"] == {"plan": "trial"}
    assert call.payload["caller"]["ip"] == "127.0.0.1"
    assert PASSWORD not in json.dumps(call.payload)


def test_a_refused_sign_up_is_400_signup_refused_with_the_hooks_message(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply("/pre_signup", Answer({"allow": False, "message": "No sign-ups\nfrom here."}))
    email = unique_email("refused")

    answer = signup(deny, email)

    assert answer.status_code == 400
    assert answer.json()["error"] == "signup_refused"
    assert answer.json()["message"] == "No sign-ups from here."
    assert users_named(deny, email) == []


def test_a_refusal_message_is_bounded(deny: AuthgateServer, receiver: HookReceiver) -> None:
    receiver.reply("/pre_signup", Answer({"allow": False, "message": "x" * 5000}))

    answer = signup(deny, unique_email("long"))

    assert answer.status_code == 400
    assert len(answer.json()["message"]) == 256


def test_pre_signup_may_confirm_and_verify_at_once(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply(
        "/pre_signup", Answer({"allow": True, "auto_confirm": True, "auto_verify_email": True})
    )
    email = unique_email("auto")

    answer = signup(deny, email)

    assert answer.status_code == 201
    assert answer.json()["confirmed"] is True
    (user,) = users_named(deny, email)
    assert user["status"] == "confirmed"
    assert user["email_verified"] is True
    assert login(deny, email).status_code == 200


def test_a_pre_signup_timeout_with_deny_refuses_and_leaves_no_user(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply("/pre_signup", Answer({"allow": True}, delay=1.5))
    email = unique_email("slow")

    started = time.monotonic()
    answer = signup(deny, email)

    assert time.monotonic() - started < 1.4
    assert answer.status_code == 400
    assert answer.json()["error"] == "signup_refused"
    time.sleep(1.5)  # the hook's late answer changes nothing
    assert users_named(deny, email) == []


def test_a_pre_signup_timeout_with_allow_signs_up(
    allow: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply("/pre_signup", Answer({"allow": True}, delay=1.5))
    email = unique_email("slowok")

    answer = signup(allow, email)

    assert answer.status_code == 201
    assert answer.json()["confirmed"] is False
    assert len(users_named(allow, email)) == 1


def test_a_malformed_pre_signup_answer_follows_on_error(
    deny: AuthgateServer, allow: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply("/pre_signup", Answer({"allow": "yes"}))

    assert signup(deny, unique_email("bad")).status_code == 400
    assert signup(allow, unique_email("bad")).status_code == 201


# -- post_confirmation -----------------------------------------------------------------


def test_post_confirmation_is_told_after_the_confirmation(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("confirmed")
    assert signup(deny, email).status_code == 201

    confirm(deny, email)

    (call,) = wait_about(receiver, "post_confirmation", email)
    assert call.verified
    assert call.payload["source"] == "confirm_signup"
    assert call.payload["user"]["status"] == "confirmed"
    assert "password_hash" not in call.payload["user"]


def test_a_failed_notice_is_retried_with_the_same_webhook_id(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply("/post_confirmation", Answer({}, status=500), Answer({}, status=503), Answer({}))
    email = unique_email("retried")
    assert signup(deny, email).status_code == 201

    confirm(deny, email)

    calls = wait_about(receiver, "post_confirmation", email, count=3)
    assert len({c.headers["webhook-id"] for c in calls}) == 1
    assert all(c.verified for c in calls)
    time.sleep(0.5)
    assert len(calls_about(receiver, "post_confirmation", email)) == 3


# -- post_authentication ---------------------------------------------------------------


def test_post_authentication_is_told_of_a_sign_in(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("signedin")
    create_user(deny, email)

    assert login(deny, email).status_code == 200

    (call,) = wait_about(receiver, "post_authentication", email)
    assert call.payload["user"]["email"] == email
    assert call.payload["client_id"]


# -- pre_token ---------------------------------------------------------------------------


def test_pre_token_changes_the_claims_of_that_token_only(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("claims")
    create_user(deny, email)
    receiver.reply(
        "/pre_token",
        Answer(
            {
                "claims_add": {"tenant": "acme"},
                "claims_suppress": ["email"],
                "groups_add": ["beta"],
                "unknown_member": 1,
            }
        ),
    )

    tokens = login(deny, email).json()

    access, id_token = claims_of(tokens["access_token"]), claims_of(tokens["id_token"])
    assert access["tenant"] == id_token["tenant"] == "acme"
    assert "beta" in access["groups"] and "beta" in access["cognito:groups"]
    assert "email" not in id_token
    receiver.reply("/pre_token", Answer({}))
    later = claims_of(login(deny, email).json()["access_token"])
    assert "tenant" not in later and "beta" not in later["groups"]


def test_pre_token_cannot_touch_reserved_claims(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("reserved")
    create_user(deny, email)
    reserved = ["iss", "sub", "aud", "exp", "iat", "jti", "token_use", "scope", "nbf"]
    receiver.reply(
        "/pre_token",
        Answer(
            {
                "claims_add": {name: "forged" for name in [*reserved, "cnf", "nonce", "azp"]},
                "claims_suppress": reserved,
            }
        ),
    )

    tokens = login(deny, email)

    assert tokens.status_code == 200, tokens.text
    access = claims_of(tokens.json()["access_token"])
    assert access["iss"] == deny.public
    assert all(access.get(name) != "forged" for name in [*reserved, "cnf", "nonce", "azp"])
    assert {"sub", "aud", "exp", "iat", "jti", "scope"} <= set(access)
    with deny.public_client() as client:
        me = client.get(
            "/v1/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
        )
    assert me.status_code == 200


def test_pre_token_is_asked_on_a_refresh_too(deny: AuthgateServer, receiver: HookReceiver) -> None:
    email = unique_email("refresh")
    create_user(deny, email)
    refresh = login(deny, email).json()["refresh_token"]

    with deny.public_client() as client:
        again = client.post("/v1/token/refresh", json={"refresh_token": refresh})

    assert again.status_code == 200, again.text
    sources = [c.payload["source"] for c in calls_about(receiver, "pre_token", email)]
    assert sources == ["authentication", "refresh_tokens"]


def test_a_pre_token_timeout_with_deny_issues_no_tokens(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("notokens")
    create_user(deny, email)
    receiver.reply("/pre_token", Answer({"claims_add": {"late": True}}, delay=1.5))

    answer = login(deny, email)

    assert answer.status_code == 503
    assert answer.json()["error"] == "hook_failed"


def test_a_pre_token_timeout_with_allow_issues_the_tokens_unchanged(
    allow: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("plain")
    create_user(allow, email)
    receiver.reply("/pre_token", Answer({"claims_add": {"late": True}}, delay=1.5))

    answer = login(allow, email)

    assert answer.status_code == 200
    assert "late" not in claims_of(answer.json()["access_token"])


# -- user_migration ----------------------------------------------------------------------


def test_an_unknown_user_found_by_migration_is_created_and_signed_in(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("legacy")
    receiver.reply(
        "/user_migration",
        Answer({"found": True, "password_ok": True, "attributes": {"email": email, "name": "Old"}}),
    )

    answer = login(deny, email)

    assert answer.status_code == 200, answer.text
    (call,) = calls_about(receiver, "user_migration", email)
    assert call.payload["source"] == "authentication"
    assert call.payload["password"] == PASSWORD
    (user,) = users_named(deny, email)
    assert user["status"] == "confirmed"
    assert user["attributes"]["name"] == "Old"
    receiver.reply("/user_migration", Answer({"found": False}))
    assert login(deny, email).status_code == 200
    assert len(calls_about(receiver, "user_migration", email)) == 1


def test_migration_not_found_answers_like_any_unknown_user(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    known = unique_email("known")
    create_user(deny, known)
    unknown = login(deny, unique_email("nobody"))
    wrong = login(deny, known, NEW_PASSWORD)

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_a_wrong_legacy_password_creates_no_user(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("wrongpw")
    receiver.reply("/user_migration", Answer({"found": True, "password_ok": False}))

    assert login(deny, email).status_code == 401
    assert users_named(deny, email) == []


def test_a_migration_timeout_answers_like_an_unknown_user(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("slowlegacy")
    receiver.reply("/user_migration", Answer({"found": True, "password_ok": True}, delay=1.5))

    answer = login(deny, email)

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_credentials"
    time.sleep(1.5)
    assert users_named(deny, email) == []


def test_forgot_password_migrates_the_user_for_a_reset(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    email = unique_email("forgot")
    receiver.reply("/user_migration", Answer({"found": True, "attributes": {"email": email}}))

    with deny.public_client() as client:
        asked = client.post("/v1/password/forgot", json={"username": email})
        assert asked.status_code in (200, 202, 204), asked.text
        code = deny.wait_for_mail(email).code
        reset = client.post(
            "/v1/password/reset",
            json={"username": email, "code": code, "new_password": NEW_PASSWORD},
        )

    assert reset.status_code in (200, 204), reset.text
    (call,) = calls_about(receiver, "user_migration", email)
    assert call.payload["source"] == "forgot_password"
    assert "password" not in call.payload
    assert login(deny, email, NEW_PASSWORD).status_code == 200


# -- custom_message ----------------------------------------------------------------------


def test_custom_message_words_the_code_mail(deny: AuthgateServer, receiver: HookReceiver) -> None:
    receiver.reply(
        "/custom_message",
        Answer({"subject": "Welcome to Acme", "body": "Hello! Your code:\n{####}\n"}),
    )
    email = unique_email("worded")

    assert signup(deny, email).status_code == 201

    mail = deny.wait_for_mail(email)
    assert mail.subject == "Welcome to Acme"
    assert mail.body.startswith("Hello!")
    assert mail.code is not None
    (call,) = wait_about(receiver, "custom_message", email)
    assert call.payload["source"] == "signup"
    assert mail.code not in json.dumps(call.payload)
    assert "{####}" in call.payload["message"]["body"]
    confirm(deny, email)


def test_a_custom_message_without_the_code_follows_on_error(
    deny: AuthgateServer, allow: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply("/custom_message", Answer({"subject": "Hi", "body": "no code here"}))
    refused, kept = unique_email("nomail"), unique_email("default")

    assert signup(deny, refused).status_code == 201
    assert signup(allow, kept).status_code == 201

    assert allow.wait_for_mail(kept).code is not None
    wait_about(receiver, "custom_message", refused)
    time.sleep(0.3)
    assert deny.mails(refused) == []


# -- audit and metrics -------------------------------------------------------------------


def test_hook_calls_are_audited_and_counted(deny: AuthgateServer, receiver: HookReceiver) -> None:
    assert signup(deny, unique_email("audited")).status_code == 201

    with deny.admin_client() as admin:
        deadline = time.monotonic() + 10
        events: list[dict[str, Any]] = []
        while not events and time.monotonic() < deadline:
            events = admin.get("/admin/audit", params={"event": "hook_called"}).json()["items"]
        metrics = admin.get("/metrics").text

    detail = events[0]["detail"]
    assert {"hook", "outcome", "duration_ms"} <= set(detail)
    assert receiver.secret not in json.dumps(events)
    assert 'authgate_hook_calls_total{hook="pre_signup",outcome="ok"}' in metrics
    assert "authgate_hook_call_duration_seconds_bucket" in metrics


def test_the_hosted_sign_up_page_shows_the_refusal_escaped(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply("/pre_signup", Answer({"allow": False, "message": "<b>No</b> & <script>"}))
    email = unique_email("page")

    with Browser(deny) as browser:
        page = browser.http.get("/auth/signup")
        answer = browser.submit(page, email=email, password=PASSWORD)

    assert answer.status_code == 400
    assert "&lt;b&gt;No&lt;/b&gt; &amp; &lt;script&gt;" in answer.text
    assert "<script>" not in answer.text.split("</style>")[-1]
    assert users_named(deny, email) == []


def test_an_administrator_created_user_is_checked_by_pre_signup(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    receiver.reply("/pre_signup", Answer({"allow": False, "message": "Not this one."}))
    email = unique_email("admin")

    with deny.admin_client() as admin:
        created = admin.post("/admin/users", json={"email": email, "password": PASSWORD})

    assert created.status_code == 400
    assert created.json()["error"] == "signup_refused"
    (call,) = calls_about(receiver, "pre_signup", email)
    assert call.payload["source"] == "admin_create_user"


def test_pre_token_changes_the_tokens_of_the_authorization_code_grant(
    deny: AuthgateServer, receiver: HookReceiver
) -> None:
    app = web_app(deny)
    email, _ = person(deny)
    receiver.reply(
        "/pre_token", Answer({"claims_add": {"tenant": "acme"}, "claims_add_ignored": True})
    )

    tokens = code_tokens(deny, app, email, nonce="n-123")

    assert claims_of(tokens["access_token"])["tenant"] == "acme"
    id_token = claims_of(tokens["id_token"])
    assert id_token["tenant"] == "acme"
    assert id_token["nonce"] == "n-123"
    sources = [c.payload["source"] for c in calls_about(receiver, "pre_token", email)]
    assert "hosted_auth" in sources
