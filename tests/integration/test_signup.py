"""Sign-up, confirmation and resend, as a client sees them (SECURITY.md classes 8 and 9).

Every answer here must be the same whether or not an account exists, codes must be
bound to one user and one purpose, die after use, after too many wrong tries and at
expiry, and nothing may be written by a refused request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
OTHER_PASSWORD = "quiet river 7 lantern"


# -- helpers -----------------------------------------------------------------------------


def signup(client: httpx.Client, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/v1/signup", json={"email": email, "password": password, **extra})


def confirm(client: httpx.Client, username: str, code: object) -> httpx.Response:
    return client.post("/v1/signup/confirm", json={"username": username, "code": code})


def resend(client: httpx.Client, username: str) -> httpx.Response:
    return client.post("/v1/signup/resend", json={"username": username})


def login(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/v1/login", json={"username": username, "password": password})


def mailed_code(server: AuthgateServer, address: str, count: int = 1) -> str:
    code = server.wait_for_mail(address, count).code
    assert code is not None, f"mail #{count} to {address} carries no code"
    return code


def wrong_code(code: str) -> str:
    """A well-formed code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def signup_and_confirm(server: AuthgateServer, client: httpx.Client, email: str) -> str:
    created = signup(client, email)
    assert created.status_code == 201
    assert confirm(client, email, mailed_code(server, email)).status_code == 200
    return str(created.json()["sub"])


def bearer(tokens: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def assert_clean_error(response: httpx.Response, status: int, code: str) -> None:
    """A machine-readable error and nothing that leaks the server's insides."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


@pytest.fixture
def client(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.public_client() as public:
        yield public


@pytest.fixture(scope="module")
def attribute_server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        user_pool={
            "custom_attributes": {
                "tenant": {"type": "string", "required": True},
                "age": {"type": "number"},
            }
        }
    )


@pytest.fixture(scope="module")
def short_code_server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(user_pool={"signup_code_ttl": "2s"})


@pytest.fixture(scope="module")
def throttled_server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(throttle={"signup_per_ip": "3/hour", "resend_per_ip": "3/hour"})


# -- sign-up -----------------------------------------------------------------------------


def test_signup_answers_201_with_an_unconfirmed_sub(client: httpx.Client) -> None:
    response = signup(client, unique_email("new"))

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"sub", "confirmed"}
    assert body["confirmed"] is False
    uuid.UUID(body["sub"])


def test_signup_mails_a_six_digit_code_on_a_line_of_its_own(
    server: AuthgateServer, client: httpx.Client
) -> None:
    address = unique_email("code")
    signup(client, address)

    mail = server.wait_for_mail(address)

    assert mail.code is not None
    assert mail.code in mail.body.splitlines()


def test_username_defaults_to_the_email(server: AuthgateServer, client: httpx.Client) -> None:
    address = unique_email("default-name")
    signup(client, address)

    assert confirm(client, address, mailed_code(server, address)).status_code == 200
    tokens = login(client, address)
    assert tokens.status_code == 200
    me = client.get("/v1/me", headers=bearer(tokens))
    assert me.json()["username"] == address
    assert me.json()["email"] == address


def test_signup_with_an_explicit_username(server: AuthgateServer, client: httpx.Client) -> None:
    address = unique_email("named")
    username = f"name-{uuid.uuid4().hex[:8]}"
    assert signup(client, address, username=username).status_code == 201

    assert confirm(client, username, mailed_code(server, address)).status_code == 200
    tokens = login(client, username)
    assert tokens.status_code == 200
    me = client.get("/v1/me", headers=bearer(tokens)).json()
    assert me["username"] == username
    assert me["email"] == address


def test_signup_accepts_a_form_encoded_body(server: AuthgateServer, client: httpx.Client) -> None:
    address = unique_email("form")
    response = client.post("/v1/signup", data={"email": address, "password": PASSWORD})

    assert response.status_code == 201
    assert response.json()["confirmed"] is False
    assert confirm(client, address, mailed_code(server, address)).status_code == 200


# -- enumeration -------------------------------------------------------------------------


def test_signup_with_a_taken_username_answers_like_a_new_signup(client: httpx.Client) -> None:
    username = f"taken-{uuid.uuid4().hex[:8]}"
    first = signup(client, unique_email("owner"), username=username)
    fresh = signup(client, unique_email("fresh"), username=f"fresh-{uuid.uuid4().hex[:8]}")

    again = signup(client, unique_email("attacker"), OTHER_PASSWORD, username=username)

    assert again.status_code == fresh.status_code == 201
    assert set(again.json()) == set(fresh.json())
    assert again.json()["confirmed"] is False
    uuid.UUID(again.json()["sub"])
    assert again.json()["sub"] != first.json()["sub"]


def test_signup_with_a_confirmed_accounts_email_answers_like_a_new_signup(
    server: AuthgateServer, client: httpx.Client
) -> None:
    address = unique_email("confirmed-owner")
    owner_sub = signup_and_confirm(server, client, address)

    again = signup(client, address, OTHER_PASSWORD)

    assert again.status_code == 201
    assert set(again.json()) == {"sub", "confirmed"}
    assert again.json()["confirmed"] is False
    uuid.UUID(again.json()["sub"])
    assert again.json()["sub"] != owner_sub


def test_signup_with_a_taken_username_mails_the_owner_a_notice_and_the_caller_nothing(
    server: AuthgateServer, client: httpx.Client
) -> None:
    owner, attacker = unique_email("owner"), unique_email("attacker")
    username = f"taken-{uuid.uuid4().hex[:8]}"
    signup(client, owner, username=username)
    mailed_code(server, owner)

    signup(client, attacker, OTHER_PASSWORD, username=username)

    notice = server.wait_for_mail(owner, count=2)
    assert notice.code is None
    assert "account" in notice.subject.lower()
    assert server.mails(attacker) == []


def test_signup_with_a_taken_username_leaves_the_owners_password_alone(
    server: AuthgateServer,
) -> None:
    owner, attacker = unique_email("owner"), unique_email("attacker")
    username = f"taken-{uuid.uuid4().hex[:8]}"
    with server.public_client(local_address="127.0.0.20") as client:
        signup(client, owner, username=username)
        code = mailed_code(server, owner)
        signup(client, attacker, OTHER_PASSWORD, username=username)
        server.wait_for_mail(owner, count=2)

        assert confirm(client, username, code).status_code == 200
        assert login(client, username, PASSWORD).status_code == 200
        assert_clean_error(login(client, username, OTHER_PASSWORD), 401, "invalid_credentials")


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", ""])
def test_invalid_email_is_refused_naming_email(client: httpx.Client, email: str) -> None:
    response = signup(client, email)

    assert_clean_error(response, 400, "invalid_request")
    assert response.json().get("field") == "email"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1", "min_length"),
        ("password1", "common_password"),
        (("lemon tree 4 harbour " * 13)[:257], "max_length"),
    ],
)
def test_weak_password_is_refused_listing_the_broken_rule(
    client: httpx.Client, password: str, rule: str
) -> None:
    response = signup(client, unique_email("weak"), password)

    assert_clean_error(response, 400, "invalid_password")
    assert rule in response.json()["rules"]


def test_a_password_of_exactly_256_characters_is_accepted(client: httpx.Client) -> None:
    password = ("lemon tree 4 harbour " * 13)[:256]

    assert signup(client, unique_email("long"), password).status_code == 201


@pytest.mark.parametrize("name", ["shoe_size", "custom:undeclared", "email_verified", "sub"])
def test_undeclared_attribute_is_refused_by_name(client: httpx.Client, name: str) -> None:
    response = signup(client, unique_email("attr"), attributes={name: "x"})

    assert_clean_error(response, 400, "invalid_attribute")
    assert response.json()["attribute"] == name


def test_standard_attribute_is_kept_and_shown_at_me(
    server: AuthgateServer, client: httpx.Client
) -> None:
    address = unique_email("given")
    assert signup(client, address, attributes={"given_name": "Ada"}).status_code == 201
    confirm(client, address, mailed_code(server, address))

    me = client.get("/v1/me", headers=bearer(login(client, address)))

    assert me.status_code == 200
    assert me.json()["attributes"]["given_name"] == "Ada"


def test_declared_custom_attributes_are_accepted(attribute_server: AuthgateServer) -> None:
    address = unique_email("custom")
    with attribute_server.public_client() as client:
        created = signup(client, address, attributes={"custom:tenant": "acme", "custom:age": 42})
        assert created.status_code == 201
        confirm(client, address, mailed_code(attribute_server, address))

        me = client.get("/v1/me", headers=bearer(login(client, address))).json()

    assert me["attributes"]["custom:tenant"] == "acme"
    assert me["attributes"]["custom:age"] == 42


@pytest.mark.parametrize(
    ("name", "value"),
    [("custom:age", "forty"), ("custom:age", True), ("custom:tenant", 7)],
)
def test_custom_attribute_of_the_wrong_type_is_refused_by_name(
    attribute_server: AuthgateServer, name: str, value: object
) -> None:
    attributes = {"custom:tenant": "acme", name: value}
    with attribute_server.public_client() as client:
        response = signup(client, unique_email("typed"), attributes=attributes)

    assert_clean_error(response, 400, "invalid_attribute")
    assert response.json()["attribute"] == name


def test_missing_required_custom_attribute_is_refused_by_name(
    attribute_server: AuthgateServer,
) -> None:
    with attribute_server.public_client() as client:
        response = signup(client, unique_email("untenanted"), attributes={"custom:age": 3})

    assert_clean_error(response, 400, "invalid_attribute")
    assert response.json()["attribute"] == "custom:tenant"


@pytest.mark.parametrize(
    "content",
    [
        b"email=a@example.com&password=x",
        b'{"email": "a@example.com", "password": ',
        b'["a@example.com", "lemon tree 4 harbour"]',
        b'"a@example.com"',
        b"null",
        b'{"email": "\xff@example.com", "password": "lemon tree 4 harbour"}',
        b"[" * 30_000 + b"]" * 30_000,
    ],
    ids=["form-as-json", "truncated", "array", "string", "null", "bad-utf8", "deep-nesting"],
)
def test_a_body_that_is_not_a_json_object_is_refused(client: httpx.Client, content: bytes) -> None:
    response = client.post(
        "/v1/signup", content=content, headers={"Content-Type": "application/json"}
    )

    assert_clean_error(response, 400, "invalid_request")


def test_an_unsupported_content_type_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/v1/signup",
        content=f"email={unique_email('text')}&password={PASSWORD}",
        headers={"Content-Type": "text/plain"},
    )

    assert_clean_error(response, 400, "invalid_request")


def test_an_oversize_body_is_refused(client: httpx.Client) -> None:
    body = {"email": unique_email("big"), "password": PASSWORD, "pad": "x" * (64 * 1024)}

    response = client.post("/v1/signup", json=body)

    assert_clean_error(response, 413, "body_too_large")


def test_an_oversize_body_sent_without_a_length_is_refused(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "big@example.com", "password": "lemon tree 4 harbour", "pad": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/v1/signup", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert_clean_error(response, 413, "body_too_large")


@pytest.mark.parametrize(
    "refused",
    [
        {"password": "short1"},
        {"password": "password1"},
        {"attributes": {"shoe_size": "44"}},
        {"attributes": ["given_name"]},
    ],
    ids=["short-password", "common-password", "undeclared-attribute", "attributes-not-object"],
)
def test_a_refused_signup_writes_nothing(
    server: AuthgateServer, client: httpx.Client, refused: dict[str, Any]
) -> None:
    address = unique_email("retry")
    assert signup(client, address, **refused).status_code == 400

    assert signup(client, address).status_code == 201
    mail = server.wait_for_mail(address)
    assert mail.code is not None
    assert confirm(client, address, mail.code).status_code == 200
    assert login(client, address).status_code == 200


# -- confirmation ------------------------------------------------------------------------


def test_the_right_code_confirms_and_login_works(
    server: AuthgateServer, client: httpx.Client
) -> None:
    address = unique_email("confirm")
    signup(client, address)

    confirmed = confirm(client, address, mailed_code(server, address))

    assert confirmed.status_code == 200
    assert confirmed.json() == {"confirmed": True}
    assert login(client, address).status_code == 200


def test_a_wrong_code_is_refused(server: AuthgateServer, client: httpx.Client) -> None:
    address = unique_email("wrong")
    signup(client, address)

    response = confirm(client, address, wrong_code(mailed_code(server, address)))

    assert_clean_error(response, 400, "invalid_code")


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_code(
    server: AuthgateServer, client: httpx.Client
) -> None:
    address = unique_email("known")
    signup(client, address)
    wrong = confirm(client, address, wrong_code(mailed_code(server, address)))

    unknown = confirm(client, unique_email("nobody"), "123456")

    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json()


def test_a_used_code_never_works_again(server: AuthgateServer, client: httpx.Client) -> None:
    address = unique_email("twice")
    signup(client, address)
    code = mailed_code(server, address)
    assert confirm(client, address, code).status_code == 200

    assert_clean_error(confirm(client, address, code), 400, "invalid_code")


def test_four_wrong_tries_leave_the_code_usable(
    server: AuthgateServer, client: httpx.Client
) -> None:
    address = unique_email("four")
    signup(client, address)
    code = mailed_code(server, address)
    for _ in range(4):
        assert confirm(client, address, wrong_code(code)).status_code == 400

    assert confirm(client, address, code).status_code == 200


def test_five_wrong_tries_kill_the_code(server: AuthgateServer, client: httpx.Client) -> None:
    address = unique_email("five")
    signup(client, address)
    code = mailed_code(server, address)
    for _ in range(5):
        assert confirm(client, address, wrong_code(code)).status_code == 400

    assert_clean_error(confirm(client, address, code), 400, "invalid_code")
    assert login(client, address).status_code == 403


@pytest.mark.parametrize(
    "mangle",
    [
        lambda code: code[:5],
        lambda code: code + "0",
        lambda code: code[:5] + "a",
        lambda code: "".join(chr(ord(d) - ord("0") + 0x0660) for d in code),
    ],
    ids=["5-digits", "7-digits", "non-digit", "arabic-indic-digits"],
)
def test_a_malformed_code_is_refused(
    server: AuthgateServer, client: httpx.Client, mangle: Any
) -> None:
    address = unique_email("malformed")
    signup(client, address)

    response = confirm(client, address, mangle(mailed_code(server, address)))

    assert_clean_error(response, 400, "invalid_code")


def test_a_reset_code_cannot_confirm_a_signup(server: AuthgateServer, client: httpx.Client) -> None:
    address = unique_email("reset-for-confirm")
    sub = signup(client, address).json()["sub"]
    signup_code = mailed_code(server, address)
    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/reset-password").status_code in (200, 202, 204)
    reset_code = mailed_code(server, address, count=2)

    assert_clean_error(confirm(client, address, reset_code), 400, "invalid_code")
    assert confirm(client, address, signup_code).status_code == 200


def test_a_reset_code_of_a_confirmed_account_cannot_confirm_a_signup(
    server: AuthgateServer, client: httpx.Client
) -> None:
    address = unique_email("confirmed-reset")
    signup_and_confirm(server, client, address)
    assert client.post("/v1/password/forgot", json={"username": address}).status_code == 202
    reset_code = mailed_code(server, address, count=2)

    assert_clean_error(confirm(client, address, reset_code), 400, "invalid_code")


def test_a_signup_code_cannot_reset_the_password(
    server: AuthgateServer, client: httpx.Client
) -> None:
    address = unique_email("confirm-for-reset")
    signup(client, address)
    signup_code = mailed_code(server, address)

    response = client.post(
        "/v1/password/reset",
        json={"username": address, "code": signup_code, "new_password": OTHER_PASSWORD},
    )

    assert_clean_error(response, 400, "invalid_code")
    assert confirm(client, address, signup_code).status_code == 200
    assert login(client, address, PASSWORD).status_code == 200


def test_a_code_mailed_to_another_user_does_not_confirm(
    server: AuthgateServer, client: httpx.Client
) -> None:
    alice, bob = unique_email("alice"), unique_email("bob")
    signup(client, alice)
    signup(client, bob)
    alices_code = mailed_code(server, alice)
    server.wait_for_mail(bob)

    assert_clean_error(confirm(client, bob, alices_code), 400, "invalid_code")


# -- code expiry -------------------------------------------------------------------------


def test_an_expired_code_is_refused_and_resend_gives_a_working_one(
    short_code_server: AuthgateServer,
) -> None:
    address = unique_email("expiry")
    with short_code_server.public_client() as client:
        signup(client, address)
        code = mailed_code(short_code_server, address)
        time.sleep(2.5)

        assert_clean_error(confirm(client, address, code), 400, "invalid_code")

        assert resend(client, address).status_code == 202
        fresh = mailed_code(short_code_server, address, count=2)
        assert confirm(client, address, fresh).status_code == 200
        assert login(client, address).status_code == 200


# -- resend ------------------------------------------------------------------------------


def test_resend_answers_the_same_for_unknown_confirmed_and_unconfirmed_users(
    server: AuthgateServer, client: httpx.Client
) -> None:
    confirmed = unique_email("resend-confirmed")
    signup_and_confirm(server, client, confirmed)
    unconfirmed = unique_email("resend-unconfirmed")
    signup(client, unconfirmed)

    answers = [resend(client, name) for name in (unique_email("nobody"), confirmed, unconfirmed)]

    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[0].json() == answers[1].json() == answers[2].json()


def test_resend_mails_only_an_unconfirmed_user(
    server: AuthgateServer, client: httpx.Client
) -> None:
    confirmed = unique_email("resend-confirmed")
    signup_and_confirm(server, client, confirmed)
    unconfirmed = unique_email("resend-unconfirmed")
    signup(client, unconfirmed)
    server.wait_for_mail(unconfirmed)

    resend(client, confirmed)
    resend(client, unconfirmed)

    assert server.wait_for_mail(unconfirmed, count=2).code is not None
    assert len(server.mails(confirmed)) == 1


def test_resend_replaces_the_code(server: AuthgateServer, client: httpx.Client) -> None:
    address = unique_email("replace")
    signup(client, address)
    old = mailed_code(server, address)

    resend(client, address)
    new = mailed_code(server, address, count=2)

    assert_clean_error(confirm(client, address, old), 400, "invalid_code")
    assert confirm(client, address, new).status_code == 200


# -- rate limits -------------------------------------------------------------------------


def test_the_fourth_signup_from_one_address_is_throttled(
    throttled_server: AuthgateServer,
) -> None:
    with throttled_server.public_client(local_address="127.0.0.30") as client:
        for _ in range(3):
            assert signup(client, unique_email("burst")).status_code == 201

        response = signup(client, unique_email("burst"))

    assert_clean_error(response, 429, "too_many_requests")
    assert response.headers["Retry-After"].isdigit()
    assert int(response.headers["Retry-After"]) > 0


def test_signup_throttling_is_per_address(throttled_server: AuthgateServer) -> None:
    with throttled_server.public_client(local_address="127.0.0.31") as noisy:
        for _ in range(4):
            signup(noisy, unique_email("noisy"))
    with throttled_server.public_client(local_address="127.0.0.32") as quiet:
        assert signup(quiet, unique_email("quiet")).status_code == 201


def test_the_fourth_resend_from_one_address_is_throttled(
    throttled_server: AuthgateServer,
) -> None:
    with throttled_server.public_client(local_address="127.0.0.33") as client:
        for _ in range(3):
            assert resend(client, unique_email("resend-burst")).status_code == 202

        response = resend(client, unique_email("resend-burst"))

    assert_clean_error(response, 429, "too_many_requests")
    assert response.headers["Retry-After"].isdigit()
    assert int(response.headers["Retry-After"]) > 0


def test_resend_throttling_is_per_address(throttled_server: AuthgateServer) -> None:
    with throttled_server.public_client(local_address="127.0.0.34") as noisy:
        for _ in range(4):
            resend(noisy, unique_email("noisy"))
    with throttled_server.public_client(local_address="127.0.0.35") as quiet:
        assert resend(quiet, unique_email("quiet")).status_code == 202


# -- login before confirmation -----------------------------------------------------------


def test_login_before_confirmation_with_the_right_password_is_forbidden(
    client: httpx.Client,
) -> None:
    address = unique_email("early")
    signup(client, address)

    assert_clean_error(login(client, address), 403, "user_not_confirmed")


def test_login_before_confirmation_with_a_wrong_password_reveals_nothing(
    server: AuthgateServer,
) -> None:
    address = unique_email("early-wrong")
    with server.public_client(local_address="127.0.0.21") as client:
        signup(client, address)
        unconfirmed = login(client, address, OTHER_PASSWORD)
        unknown = login(client, unique_email("nobody"), OTHER_PASSWORD)

    assert_clean_error(unconfirmed, 401, "invalid_credentials")
    assert unconfirmed.json() == unknown.json()


# -- audit -------------------------------------------------------------------------------


def test_signup_and_confirmation_are_audited_with_ip_and_user_agent(
    server: AuthgateServer,
) -> None:
    address = unique_email("audited")
    agent = "signup-spec/1.0"
    with server.public_client(local_address="127.0.0.40") as client:
        client.headers["User-Agent"] = agent
        sub = signup_and_confirm(server, client, address)

    with server.admin_client() as admin:
        response = admin.get("/admin/audit", params={"sub": sub})

    assert response.status_code == 200
    events = {item["event"]: item for item in response.json()["items"]}
    for name in ("signup", "signup_confirmed"):
        assert name in events, f"no {name} event in {sorted(events)}"
        assert events[name]["ip"] == "127.0.0.40"
        assert events[name]["user_agent"] == agent
