"""Sign-in with another OpenID Connect provider (issue 15), over HTTP against real servers:
a second authgate started here is the upstream provider ("corp"), and a provider served by
the test ("fake", "strict") gives the answers no honest provider would: forged ID tokens,
a wrong nonce, an email it does not vouch for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration import federation_support
from tests.integration.browser import Page, create_client
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.federation_support import (
    PASSWORD,
    FakeProvider,
    Person,
    b64,
    me,
    start_pair,
)
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import code, enrolled, steady


@dataclass
class Setup:
    ours: AuthgateServer
    upstream: AuthgateServer
    fake: FakeProvider


@pytest.fixture(scope="module")
def setup(
    make_server: ServerFactory, fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Setup:
    others = [
        {
            "name": "fake",
            "issuer": fake.issuer,
            "client_id": "fake-client",
            "client_secret": "fake-secret",
            "link_by_verified_email": True,
        },
        {
            "name": "strict",
            "issuer": fake.issuer,
            "client_id": "strict-client",
            "client_secret": "strict-secret",
            "allow_signup": False,
        },
    ]
    ours, upstream = start_pair(make_server, tmp_path_factory.mktemp("secrets"), others)
    return Setup(ours, upstream, fake)


@pytest.fixture
def person() -> Iterator[Person]:
    browser = Person()
    yield browser
    browser.close()


def upstream_user(
    setup: Setup, *, verified: bool = True, email: str | None = None
) -> tuple[str, str]:
    """(email, sub) of a confirmed user at the upstream authgate."""
    address = email or unique_email("corp")
    sub = federation_support.upstream_user(setup.upstream, verified=verified, email=address)
    return address, sub


def our_user(setup: Setup, email: str, *, verified: bool = True) -> str:
    body = {"email": email, "password": PASSWORD, "email_verified": verified}
    with setup.ours.admin_client() as admin:
        created = admin.post("/admin/users", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["sub"])


def users_with(server: AuthgateServer, email: str) -> list[dict[str, Any]]:
    with server.admin_client() as admin:
        found = admin.get("/admin/users", params={"email_prefix": email})
    assert found.status_code == 200, found.text
    return [u for u in found.json()["items"] if u["email"] == email]


def audit(server: AuthgateServer, event: str) -> list[dict[str, Any]]:
    with server.admin_client() as admin:
        found = admin.get("/admin/audit", params={"event": event, "limit": 200})
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def signed_in(setup: Setup, person: Person) -> bool:
    return person.http.cookies.get("authgate_session", domain="127.0.0.1") is not None


def password_sign_in(setup: Setup, person: Person, email: str) -> None:
    page = person.get(f"{setup.ours.public}/auth/login")
    answer = person.post_form(page, "/auth/login", username=email, password=PASSWORD)
    assert answer.status_code == 303, answer.text[:300]


# -- the round trip through a second authgate --------------------------------------------


def test_the_sign_in_page_shows_a_button_per_provider(setup: Setup, person: Person) -> None:
    page = person.get(f"{setup.ours.public}/auth/login")
    labels = [f.action for f in Page(page.text).forms]
    assert "Continue with Corporate account" in page.text
    assert "/auth/federation/corp/start" in labels and "/auth/federation/fake/start" in labels


def test_the_start_goes_to_the_provider_with_pkce_state_and_nonce(
    setup: Setup, person: Person
) -> None:
    to_provider = person.start(setup.ours, "corp")
    location = urlsplit(to_provider.headers["location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}" == setup.upstream.config["issuer"]
    assert query["redirect_uri"] == f"{setup.ours.public}/oauth2/callback/corp"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    assert person.http.cookies.get("authgate_federation", domain="127.0.0.1")


def test_a_start_without_the_form_token_is_refused(setup: Setup, person: Person) -> None:
    answer = person.http.post(f"{setup.ours.public}/auth/federation/corp/start", data={})
    assert answer.status_code == 403


def test_a_new_person_signs_in_with_the_provider_and_gets_an_account(
    setup: Setup, person: Person
) -> None:
    email, upstream_sub = upstream_user(setup)

    answer = person.sign_in_via_authgate(setup.ours, email)

    assert answer.status_code == 303, answer.text[:300]
    assert answer.headers["location"] == "/auth/account"
    profile = me(setup.ours, person)
    assert profile["email"] == email and profile["email_verified"] is True
    assert [(p["name"], p["subject"]) for p in profile["identity_providers"]] == [
        ("corp", upstream_sub)
    ]


def test_a_linked_person_signs_in_again_as_the_same_user(setup: Setup) -> None:
    email, _ = upstream_user(setup)
    subs = []
    for _ in range(2):
        browser = Person()
        try:
            assert browser.sign_in_via_authgate(setup.ours, email).status_code == 303
            subs.append(me(setup.ours, browser)["sub"])
        finally:
            browser.close()
    assert subs[0] == subs[1]
    assert len(users_with(setup.ours, email)) == 1


def test_the_sign_in_continues_the_oauth_request_it_interrupted(
    setup: Setup, person: Person
) -> None:
    email, _ = upstream_user(setup)
    client = create_client(setup.ours)
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uris"][0],
        "scope": "openid email",
        "state": "app-state",
        "code_challenge": b64(hashlib.sha256(b"v" * 43).digest()),
        "code_challenge_method": "S256",
    }
    login = person.follow(person.get(f"{setup.ours.public}/oauth2/authorize?{urlencode(query)}"))
    to_provider = person.post_form(login, "/federation/corp/start")
    back = person.follow(person.at_provider(to_provider, email))
    # A third-party client asks for consent first; then the code goes to the client.
    consent = person.follow(back)
    to_client = person.post_form(consent, "/auth/consent", decision="allow")
    answer = parse_qs(urlsplit(to_client.headers["location"]).query)
    assert to_client.headers["location"].startswith(client["redirect_uris"][0])
    assert answer["state"] == ["app-state"] and answer["code"]


def test_a_replayed_callback_is_refused(setup: Setup, person: Person) -> None:
    email, _ = upstream_user(setup)
    back = person.at_provider(person.start(setup.ours, "corp"), email)
    assert person.follow(back).status_code == 303

    again = person.follow(back)

    assert again.status_code == 400
    assert "was used already" in again.text


def test_a_callback_in_another_browser_is_refused_and_left_to_its_own(
    setup: Setup, person: Person
) -> None:
    email, _ = upstream_user(setup)
    back = person.at_provider(person.start(setup.ours, "corp"), email)
    victim = Person()
    try:
        victim.start(setup.ours, "corp")  # a binding cookie of its own
        answer = victim.follow(back)
        assert answer.status_code == 400
        assert not signed_in(setup, victim)
    finally:
        victim.close()
    assert person.follow(back).status_code == 303


def test_a_callback_with_a_made_up_state_is_refused(setup: Setup, person: Person) -> None:
    person.start(setup.ours, "corp")
    state = secrets.token_urlsafe(32)
    answer = person.get(f"{setup.ours.public}/oauth2/callback/corp?code=x&state={state}")
    assert answer.status_code == 400
    assert audit(setup.ours, "federation_refused")


def test_the_provider_saying_the_email_is_unverified_cannot_take_over_an_account(
    setup: Setup, person: Person
) -> None:
    email = unique_email("victim")
    victim_sub = our_user(setup, email, verified=True)
    upstream_user(setup, verified=False, email=email)

    answer = person.sign_in_via_authgate(setup.ours, email)

    assert answer.status_code == 409
    assert "sign in to it the usual way" in answer.text.lower()
    assert not signed_in(setup, person)
    assert [u["sub"] for u in users_with(setup.ours, email)] == [victim_sub]
    refused = [e for e in audit(setup.ours, "federation_refused") if e["sub"] == victim_sub]
    assert refused and refused[0]["detail"]["reason"] == "email_taken"


def test_the_client_secret_never_appears_in_the_logs(setup: Setup) -> None:
    secret = Path(setup.ours.config["identity_providers"][0]["client_secret"][5:]).read_text()
    log = setup.ours.log.read_text()
    assert secret not in log
    assert "id_token" not in log


# -- answers only a provider served by the test would give --------------------------------


def fake_claims(**changes: Any) -> dict[str, Any]:
    base = {"sub": secrets.token_hex(8), "email": unique_email("fake"), "email_verified": True}
    return {**base, **changes}


def test_a_verified_email_on_both_sides_links_when_the_provider_allows_it(
    setup: Setup, person: Person
) -> None:
    email = unique_email("both")
    sub = our_user(setup, email, verified=True)
    with setup.fake.answering(fake_claims(email=email)):
        answer = person.sign_in_via_fake(setup.ours, "fake")
    assert answer.status_code == 303, answer.text[:300]
    assert me(setup.ours, person)["sub"] == sub


def test_an_email_we_have_not_verified_is_not_linked(setup: Setup, person: Person) -> None:
    email = unique_email("ours-unverified")
    our_user(setup, email, verified=False)
    with setup.fake.answering(fake_claims(email=email)):
        answer = person.sign_in_via_fake(setup.ours, "fake")
    assert answer.status_code == 409
    assert len(users_with(setup.ours, email)) == 1


def test_linking_by_email_is_off_unless_configured(setup: Setup, person: Person) -> None:
    email = unique_email("strict")
    our_user(setup, email, verified=True)
    with setup.fake.answering(fake_claims(email=email)):
        answer = person.sign_in_via_fake(setup.ours, "strict")
    assert answer.status_code == 409


def test_a_provider_without_signup_refuses_an_unknown_person(setup: Setup, person: Person) -> None:
    claims = fake_claims()
    with setup.fake.answering(claims):
        answer = person.sign_in_via_fake(setup.ours, "strict")
    assert answer.status_code == 403
    assert users_with(setup.ours, claims["email"]) == []


def test_an_email_the_provider_does_not_vouch_for_stays_unverified(
    setup: Setup, person: Person
) -> None:
    with setup.fake.answering(fake_claims(email_verified=False)):
        answer = person.sign_in_via_fake(setup.ours, "fake")
    assert answer.status_code == 303
    assert me(setup.ours, person)["email_verified"] is False


def test_the_client_authenticates_with_basic_auth_and_pkce(setup: Setup, person: Person) -> None:
    with setup.fake.answering(fake_claims()):
        person.sign_in_via_fake(setup.ours, "fake")
    request = setup.fake.token_requests[-1]
    expected = base64.b64encode(b"fake-client:fake-secret").decode()
    assert request["authorization"] == f"Basic {expected}"
    assert "client_secret" not in request and request["code_verifier"]


def other_key(claims: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return pyjwt.encode(claims, key, algorithm="RS256", headers={"kid": "fake-1"})


def unsigned(claims: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "kid": "fake-1"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hmac_with_public_key(setup: Setup) -> Any:
    def make(claims: dict[str, Any]) -> str:
        header = b64(json.dumps({"alg": "HS256", "kid": "fake-1", "typ": "JWT"}).encode())
        body = b64(json.dumps(claims).encode())
        mac = hmac.new(setup.fake.public_pem, f"{header}.{body}".encode(), hashlib.sha256)
        return f"{header}.{body}.{b64(mac.digest())}"

    return make


def wrong_nonce(setup: Setup) -> Any:
    return lambda claims: setup.fake.sign({**claims, "nonce": "not-the-one-we-sent"})


@pytest.mark.parametrize(
    "forgery", ["another_key", "alg_none", "hs256_public_key", "wrong_nonce", "wrong_audience"]
)
def test_a_forged_id_token_signs_nobody_in(setup: Setup, person: Person, forgery: str) -> None:
    makers = {
        "another_key": other_key,
        "alg_none": unsigned,
        "hs256_public_key": hmac_with_public_key(setup),
        "wrong_nonce": wrong_nonce(setup),
        "wrong_audience": lambda claims: setup.fake.sign({**claims, "aud": "someone-else"}),
    }
    claims = fake_claims()
    with setup.fake.answering(claims, makers[forgery]):
        answer = person.sign_in_via_fake(setup.ours, "fake")
    assert answer.status_code == 400
    assert "could not be verified" in answer.text
    assert not signed_in(setup, person)
    assert users_with(setup.ours, claims["email"]) == []


def test_a_disabled_user_cannot_sign_in_through_a_provider(setup: Setup, person: Person) -> None:
    claims = fake_claims()
    with setup.fake.answering(claims):
        assert person.sign_in_via_fake(setup.ours, "fake").status_code == 303
        sub = me(setup.ours, person)["sub"]
        with setup.ours.admin_client() as admin:
            assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
        again = Person()
        try:
            assert again.sign_in_via_fake(setup.ours, "fake").status_code == 403
        finally:
            again.close()


def test_a_linked_sign_in_takes_the_providers_current_name_but_keeps_the_email(
    setup: Setup,
) -> None:
    claims = fake_claims(name="Ada Lovelace")
    profiles = []
    for answered in (claims, {**claims, "name": "Ada King", "email": unique_email("moved")}):
        browser = Person()
        try:
            with setup.fake.answering(answered):
                assert browser.sign_in_via_fake(setup.ours, "fake").status_code == 303
            profiles.append(me(setup.ours, browser))
        finally:
            browser.close()

    first, second = profiles
    assert first["attributes"]["name"] == "Ada Lovelace"
    assert second["sub"] == first["sub"]
    assert second["attributes"]["name"] == "Ada King"
    assert second["email"] == claims["email"]
    updates = [
        e for e in audit(setup.ours, "federation_attributes_updated") if e["sub"] == first["sub"]
    ]
    assert [e["detail"]["attributes"] for e in updates] == [["name"]]


def test_a_linked_sign_in_with_unchanged_claims_writes_nothing(setup: Setup) -> None:
    claims = fake_claims(name="Grace Hopper")
    subs = []
    for _ in range(2):
        browser = Person()
        try:
            with setup.fake.answering(claims):
                assert browser.sign_in_via_fake(setup.ours, "fake").status_code == 303
            subs.append(me(setup.ours, browser)["sub"])
        finally:
            browser.close()

    assert subs[0] == subs[1]
    assert not [
        e for e in audit(setup.ours, "federation_attributes_updated") if e["sub"] == subs[0]
    ]


# -- the account page ----------------------------------------------------------------------


def test_a_signed_in_user_links_a_provider_from_the_account_page(
    setup: Setup, person: Person
) -> None:
    email = unique_email("linker")
    sub = our_user(setup, email)
    password_sign_in(setup, person, email)
    account = person.get(f"{setup.ours.public}/auth/account")
    claims = fake_claims(email=unique_email("elsewhere"))
    with setup.fake.answering(claims):
        to_fake = person.post_form(account, "/account/federation/fake/link")
        done = person.follow(person.follow(to_fake))
        assert done.headers["location"] == "/auth/account?status=provider_linked"
        other = Person()
        try:
            assert other.sign_in_via_fake(setup.ours, "fake").status_code == 303
            assert me(setup.ours, other)["sub"] == sub
        finally:
            other.close()


def test_an_identity_linked_to_someone_else_is_not_linked_again(
    setup: Setup, person: Person
) -> None:
    claims = fake_claims()
    with setup.fake.answering(claims):
        first = Person()
        try:
            assert first.sign_in_via_fake(setup.ours, "fake").status_code == 303
        finally:
            first.close()
        email = unique_email("second")
        our_user(setup, email)
        password_sign_in(setup, person, email)
        account = person.get(f"{setup.ours.public}/auth/account")
        answer = person.follow(
            person.follow(person.post_form(account, "/account/federation/fake/link"))
        )
    assert answer.status_code == 409


def test_unlinking_the_only_way_to_sign_in_is_refused(setup: Setup, person: Person) -> None:
    with setup.fake.answering(fake_claims()):
        assert person.sign_in_via_fake(setup.ours, "fake").status_code == 303
    account = (
        person.follow(person.get(f"{setup.ours.public}/auth/account?x=1"))
        if False
        else person.get(f"{setup.ours.public}/auth/account")
    )
    answer = person.post_form(account, "/account/federation/fake/unlink")
    assert answer.status_code == 409
    assert "only way to sign in" in answer.text
    assert me(setup.ours, person)["identity_providers"]


def test_a_user_with_a_password_unlinks_a_provider(setup: Setup, person: Person) -> None:
    email = unique_email("unlinker")
    our_user(setup, email)
    password_sign_in(setup, person, email)
    account = person.get(f"{setup.ours.public}/auth/account")
    with setup.fake.answering(fake_claims(email=unique_email("x"))):
        person.follow(person.follow(person.post_form(account, "/account/federation/fake/link")))
    account = person.get(f"{setup.ours.public}/auth/account")
    answer = person.post_form(account, "/account/federation/fake/unlink")
    assert answer.headers["location"] == "/auth/account?status=provider_unlinked"
    assert me(setup.ours, person)["identity_providers"] == []
    assert audit(setup.ours, "federation_unlinked")


# -- a second factor ------------------------------------------------------------------------


def test_a_user_with_totp_still_answers_the_second_factor(setup: Setup, person: Person) -> None:
    user = enrolled(setup.ours)
    with setup.fake.answering(fake_claims(email=user.email)):
        answer = person.sign_in_via_fake(setup.ours, "fake")
    assert answer.headers["location"].startswith("/auth/login/mfa")
    assert not signed_in(setup, person)

    page = person.follow(answer)
    done = person.post_form(page, "/auth/login/mfa", code=code(user.secret, steady()))

    assert done.headers["location"] == "/auth/account"
    assert me(setup.ours, person)["sub"] == user.sub


def test_a_first_party_client_gets_its_code_through_a_page_that_goes_on(
    setup: Setup, person: Person
) -> None:
    email, _ = upstream_user(setup)
    client = create_client(setup.ours, first_party=True)
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uris"][0],
        "scope": "openid email",
        "state": "app-state",
        "code_challenge": b64(hashlib.sha256(b"v" * 43).digest()),
        "code_challenge_method": "S256",
    }
    login = person.follow(person.get(f"{setup.ours.public}/oauth2/authorize?{urlencode(query)}"))
    to_provider = person.post_form(login, "/federation/corp/start")

    page = person.follow(person.at_provider(to_provider, email))

    assert page.status_code == 200
    target = page.headers["refresh"].removeprefix("0; url=")
    assert target.startswith(client["redirect_uris"][0])
    assert parse_qs(urlsplit(target).query)["state"] == ["app-state"]
    assert signed_in(setup, person)


def test_a_provider_without_an_email_claim_still_makes_an_account(
    setup: Setup, person: Person
) -> None:
    claims = {"sub": secrets.token_hex(8), "name": "Nobody Mailable"}
    with setup.fake.answering(claims):
        answer = person.sign_in_via_fake(setup.ours, "fake")
    assert answer.status_code == 303, answer.text[:300]
    profile = me(setup.ours, person)
    assert profile["email"] is None
    assert profile["username"].startswith("fake-")
    assert profile["attributes"]["name"] == "Nobody Mailable"


def test_linking_without_a_session_asks_to_sign_in_first(setup: Setup, person: Person) -> None:
    answer = person.http.post(f"{setup.ours.public}/auth/account/federation/fake/link", data={})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/auth/login?return_to=")


def test_linking_without_the_form_token_is_refused(setup: Setup, person: Person) -> None:
    email = unique_email("csrf")
    our_user(setup, email)
    password_sign_in(setup, person, email)
    answer = person.http.post(f"{setup.ours.public}/auth/account/federation/fake/link", data={})
    assert answer.status_code == 403
