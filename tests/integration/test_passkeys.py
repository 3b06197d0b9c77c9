"""Passkeys through the HTTP API, with a software authenticator (tests/webauthn_authenticator.py):
registration, the owner's list, sign-in, and every way a ceremony must fail."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.test_admin_api import all_items
from tests.integration.test_login import PASSWORD, claims_of, create_user, login
from tests.webauthn_authenticator import SoftAuthenticator, b64url

_next_host = iter(range(2, 251))


def fresh_address() -> str:
    """A loopback address of its own, so that refusals in one test (which count against
    the address) do not throttle the next."""
    return f"127.0.1.{next(_next_host)}"


def refused_login(
    server: AuthgateServer, credential: dict[str, Any], session: str, **extra: Any
) -> httpx.Response:
    return passkey_login(server, credential, session, local_address=fresh_address(), **extra)


def signed_in(server: AuthgateServer) -> tuple[str, str, str]:
    """A new confirmed user: (email, sub, access token)."""
    email = unique_email("passkey")
    sub = create_user(server, email)
    response = login(server, email, PASSWORD)
    assert response.status_code == 200, response.text
    return email, sub, response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def creation_options(server: AuthgateServer, token: str) -> dict[str, Any]:
    with server.public_client() as client:
        response = client.post(
            "/v1/me/passkeys/options", json={"password": PASSWORD}, headers=bearer(token)
        )
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()["options"]
    return options


def post_credential(
    server: AuthgateServer, token: str, credential: dict[str, Any], name: str | None = "Laptop"
) -> httpx.Response:
    body: dict[str, Any] = {"credential": credential}
    if name is not None:
        body["name"] = name
    with server.public_client() as client:
        return client.post("/v1/me/passkeys", json=body, headers=bearer(token))


def register(
    server: AuthgateServer, token: str, authenticator: SoftAuthenticator, name: str = "Laptop"
) -> dict[str, Any]:
    credential = authenticator.create(creation_options(server, token))
    response = post_credential(server, token, credential, name)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def authenticator_for(server: AuthgateServer, **flags: Any) -> SoftAuthenticator:
    return SoftAuthenticator(origin=server.public, **flags)


def login_options(
    server: AuthgateServer, username: str | None = None, local_address: str | None = None
) -> dict[str, Any]:
    body = {} if username is None else {"username": username}
    with server.public_client(local_address) as client:
        response = client.post("/v1/passkeys/login/options", json=body)
    assert response.status_code == 200, response.text
    started: dict[str, Any] = response.json()
    return started


def passkey_login(
    server: AuthgateServer,
    credential: dict[str, Any],
    session: str,
    local_address: str | None = None,
    **extra: Any,
) -> httpx.Response:
    with server.public_client(local_address) as client:
        return client.post(
            "/v1/passkeys/login", json={"credential": credential, "session": session, **extra}
        )


def list_passkeys(server: AuthgateServer, token: str) -> list[dict[str, Any]]:
    with server.public_client() as client:
        response = client.get("/v1/me/passkeys", headers=bearer(token))
    assert response.status_code == 200, response.text
    passkeys: list[dict[str, Any]] = response.json()["passkeys"]
    return passkeys


@pytest.fixture(scope="module")
def enrolled(server: AuthgateServer) -> tuple[str, str, SoftAuthenticator]:
    """A user with one device-bound passkey: (email, sub, authenticator)."""
    email, sub, token = signed_in(server)
    authenticator = authenticator_for(server)
    register(server, token, authenticator)
    return email, sub, authenticator


# -- registration and the owner's list -------------------------------------------------------


def test_registered_passkey_answers_201_and_is_listed(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    created = register(server, token, authenticator_for(server), name="Work laptop")
    assert {"id", "name", "created_at"} <= set(created)
    assert created["name"] == "Work laptop"
    listed = list_passkeys(server, token)
    assert [(p["id"], p["name"]) for p in listed] == [(created["id"], "Work laptop")]
    assert listed[0]["last_used_at"] is None
    assert "public_key" not in listed[0]


def test_creation_options_ask_for_a_discoverable_verified_credential_without_attestation(
    server: AuthgateServer,
) -> None:
    _, sub, token = signed_in(server)
    options = creation_options(server, token)
    assert options["rp"]["id"] == "127.0.0.1"  # the issuer's host, by default
    assert options["attestation"] == "none"
    selection = options["authenticatorSelection"]
    assert selection["userVerification"] == "required"
    assert selection["residentKey"] == "required"
    assert options["excludeCredentials"] == []


def test_creation_options_exclude_the_users_passkeys(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    authenticator = authenticator_for(server)
    register(server, token, authenticator)
    options = creation_options(server, token)
    excluded = [d["id"] for d in options["excludeCredentials"]]
    assert excluded == [list_passkeys_ids(authenticator)[0]]


def list_passkeys_ids(authenticator: SoftAuthenticator) -> list[str]:
    return [b64url(c.credential_id) for c in authenticator.credentials]


def test_creation_options_need_the_password(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    with server.public_client() as client:
        wrong = client.post(
            "/v1/me/passkeys/options", json={"password": "not it at all"}, headers=bearer(token)
        )
        missing = client.post("/v1/me/passkeys/options", json={}, headers=bearer(token))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_credentials")
    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_credentials")


def test_creation_options_need_a_bearer_token(server: AuthgateServer) -> None:
    with server.public_client() as client:
        response = client.post("/v1/me/passkeys/options", json={"password": PASSWORD})
    assert response.status_code == 401


def test_registration_with_another_access_token_of_the_same_user_is_refused(
    server: AuthgateServer,
) -> None:
    email, _, token = signed_in(server)
    credential = authenticator_for(server).create(creation_options(server, token))
    other_token = login(server, email, PASSWORD).json()["access_token"]
    response = post_credential(server, other_token, credential)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")


def test_registration_from_another_origin_is_refused(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    options = creation_options(server, token)
    credential = authenticator_for(server).create(options, origin="https://evil.example")
    response = post_credential(server, token, credential)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")
    assert list_passkeys(server, token) == []


def test_registration_without_user_verification_is_refused(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    options = creation_options(server, token)
    credential = authenticator_for(server).create(options, user_verified=False)
    response = post_credential(server, token, credential)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")


def test_a_registration_challenge_is_spent_once(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    options = creation_options(server, token)
    assert (
        post_credential(server, token, authenticator_for(server).create(options)).status_code == 201
    )
    again = post_credential(server, token, authenticator_for(server).create(options))
    assert (again.status_code, again.json()["error"]) == (400, "invalid_passkey")
    assert len(list_passkeys(server, token)) == 1


def test_a_malformed_credential_is_a_400(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    for credential in ({"id": "x"}, "not json", 7, {"response": {"clientDataJSON": "!!"}}):
        response = post_credential(server, token, credential)  # type: ignore[arg-type]
        assert response.status_code == 400, (credential, response.text)
        assert response.json()["error"] in ("invalid_passkey", "invalid_request")


def test_rename_changes_the_name(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    created = register(server, token, authenticator_for(server))
    with server.public_client() as client:
        response = client.patch(
            f"/v1/me/passkeys/{created['id']}", json={"name": "  Phone "}, headers=bearer(token)
        )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Phone"
    assert [p["name"] for p in list_passkeys(server, token)] == ["Phone"]


def test_rename_refuses_an_empty_or_long_name(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    created = register(server, token, authenticator_for(server))
    with server.public_client() as client:
        for name in ("", "   ", "x" * 65, "tab\there", 5):
            response = client.patch(
                f"/v1/me/passkeys/{created['id']}", json={"name": name}, headers=bearer(token)
            )
            assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_delete_removes_the_passkey_and_its_sign_in(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    authenticator = authenticator_for(server)
    created = register(server, token, authenticator)
    with server.public_client() as client:
        deleted = client.delete(f"/v1/me/passkeys/{created['id']}", headers=bearer(token))
        again = client.delete(f"/v1/me/passkeys/{created['id']}", headers=bearer(token))
    assert deleted.status_code == 204
    assert again.status_code == 404
    assert list_passkeys(server, token) == []
    started = login_options(server)
    response = refused_login(server, authenticator.get(started["options"]), started["session"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")


def test_another_users_passkey_cannot_be_deleted_or_renamed(server: AuthgateServer) -> None:
    _, _, owner_token = signed_in(server)
    created = register(server, owner_token, authenticator_for(server))
    _, _, other_token = signed_in(server)
    with server.public_client() as client:
        deleted = client.delete(f"/v1/me/passkeys/{created['id']}", headers=bearer(other_token))
        renamed = client.patch(
            f"/v1/me/passkeys/{created['id']}", json={"name": "mine"}, headers=bearer(other_token)
        )
    assert (deleted.status_code, deleted.json()["error"]) == (404, "not_found")
    assert (renamed.status_code, renamed.json()["error"]) == (404, "not_found")
    assert [p["id"] for p in list_passkeys(server, owner_token)] == [created["id"]]


# -- sign-in ---------------------------------------------------------------------------------


def test_discoverable_sign_in_issues_tokens_with_amr_hwk(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    email, sub, authenticator = enrolled
    started = login_options(server)
    assert started["options"]["allowCredentials"] == []
    assert started["options"]["userVerification"] == "required"
    response = passkey_login(server, authenticator.get(started["options"]), started["session"])
    assert response.status_code == 200, response.text
    body = response.json()
    access, id_token = claims_of(body["access_token"]), claims_of(body["id_token"])
    assert access["sub"] == id_token["sub"] == sub
    assert access["amr"] == id_token["amr"] == ["hwk"]
    with server.public_client() as client:
        me = client.get("/v1/me", headers=bearer(body["access_token"]))
    assert me.json()["email"] == email


def test_sign_in_with_a_username_offers_that_users_passkeys(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    email, sub, authenticator = enrolled
    started = login_options(server, email)
    allowed = [d["id"] for d in started["options"]["allowCredentials"]]
    assert allowed == list_passkeys_ids(authenticator)
    response = passkey_login(server, authenticator.get(started["options"]), started["session"])
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["sub"] == sub


def test_sign_in_with_a_username_refuses_another_users_passkey(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    _, _, authenticator = enrolled
    other_email, _, _ = signed_in(server)
    started = login_options(server, other_email)
    credential = authenticator.get(started["options"], credential=authenticator.credentials[0])
    response = refused_login(server, credential, started["session"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")


def test_an_unknown_username_gets_options_like_a_known_one(server: AuthgateServer) -> None:
    unknown = unique_email("nobody")
    first, second = login_options(server, unknown), login_options(server, unknown)
    known_email, _, _ = signed_in(server)  # a user without passkeys looks the same
    known = login_options(server, known_email)
    for started in (first, known):
        options = started["options"]
        assert set(options) == set(known["options"])
        assert len(options["allowCredentials"]) == 1
        assert len(options["allowCredentials"][0]["id"]) == 43  # 32 bytes, like ours
        assert started["session"]
    assert first["options"]["allowCredentials"] == second["options"]["allowCredentials"]


def test_sign_in_passes_with_a_backed_up_passkey_as_amr_swk(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    synced = authenticator_for(server, backup_eligible=True, backed_up=True)
    created = register(server, token, synced)
    assert list_passkeys(server, token)[0]["device_type"] == "multi_device"
    assert created["backed_up"] is True
    started = login_options(server)
    response = passkey_login(server, synced.get(started["options"]), started["session"])
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["amr"] == ["swk"]


def test_sign_in_records_the_counter_and_last_use(server: AuthgateServer) -> None:
    _, _, token = signed_in(server)
    authenticator = authenticator_for(server)
    register(server, token, authenticator)
    started = login_options(server)
    response = passkey_login(server, authenticator.get(started["options"]), started["session"])
    assert response.status_code == 200, response.text
    assert list_passkeys(server, token)[0]["last_used_at"] is not None


def test_sign_in_from_another_origin_is_refused(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    _, _, authenticator = enrolled
    started = login_options(server)
    credential = authenticator.get(started["options"], origin="https://evil.example")
    response = refused_login(server, credential, started["session"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")


def test_sign_in_for_another_rp_id_is_refused(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    _, _, authenticator = enrolled
    started = login_options(server)
    credential = authenticator.get(started["options"], rp_id="evil.example")
    response = refused_login(server, credential, started["session"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")


def test_sign_in_without_user_verification_is_refused(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    _, _, authenticator = enrolled
    started = login_options(server)
    credential = authenticator.get(started["options"], user_verified=False)
    response = refused_login(server, credential, started["session"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")


def test_a_sign_in_challenge_is_spent_once(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    _, _, authenticator = enrolled
    started = login_options(server)
    first = passkey_login(server, authenticator.get(started["options"]), started["session"])
    replay = refused_login(server, authenticator.get(started["options"]), started["session"])
    assert first.status_code == 200, first.text
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_passkey")


def test_a_sign_in_challenge_is_bound_to_its_session(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    _, _, authenticator = enrolled
    started, other = login_options(server), login_options(server)
    response = refused_login(server, authenticator.get(started["options"]), other["session"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")


def test_counter_going_back_is_refused_and_audited(server: AuthgateServer) -> None:
    _, sub, token = signed_in(server)
    authenticator = authenticator_for(server)
    created = register(server, token, authenticator)
    started = login_options(server)
    assert (
        passkey_login(server, authenticator.get(started["options"]), started["session"]).status_code
        == 200
    )
    authenticator.credentials[0].sign_count = 0  # a copy of the key that signed less often
    started = login_options(server)
    response = refused_login(server, authenticator.get(started["options"]), started["session"])
    assert (response.status_code, response.json()["error"]) == (403, "passkey_cloned")
    with server.admin_client() as admin:
        events = all_items(admin, "/admin/audit", sub=sub, event="passkey_clone_detected")
    assert [e["detail"]["passkey"] for e in events] == [created["id"]]


def test_a_disabled_user_cannot_sign_in_with_a_passkey(server: AuthgateServer) -> None:
    _, sub, token = signed_in(server)
    authenticator = authenticator_for(server)
    register(server, token, authenticator)
    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
    started = login_options(server)
    response = refused_login(server, authenticator.get(started["options"]), started["session"])
    assert (response.status_code, response.json()["error"]) == (403, "user_disabled")


def test_passkey_sign_in_refuses_a_confidential_or_unknown_client(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    _, _, authenticator = enrolled
    started = login_options(server)
    credential = authenticator.get(started["options"])
    response = refused_login(server, credential, started["session"], client_id="no-such-client")
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_failed_passkey_sign_ins_count_against_the_address(
    server: AuthgateServer, enrolled: tuple[str, str, SoftAuthenticator]
) -> None:
    _, _, authenticator = enrolled
    address = fresh_address()
    for _ in range(5):  # throttle.login_failures defaults to 5
        started = login_options(server, local_address=address)
        credential = authenticator.get(started["options"], origin="https://evil.example")
        refused = passkey_login(server, credential, started["session"], local_address=address)
        assert refused.status_code == 400
    started = login_options(server, local_address=address)
    credential = authenticator.get(started["options"])
    response = passkey_login(server, credential, started["session"], local_address=address)
    assert (response.status_code, response.json()["error"]) == (429, "too_many_requests")


@pytest.fixture(scope="module")
def quick(make_server: ServerFactory) -> AuthgateServer:
    """A server whose challenges live 200 ms (the server's clock is real, not moved)."""
    return make_server(webauthn={"challenge_ttl": "200ms"})


def test_an_expired_registration_challenge_is_refused(quick: AuthgateServer) -> None:
    _, _, token = signed_in(quick)
    options = creation_options(quick, token)
    time.sleep(0.3)
    response = post_credential(quick, token, authenticator_for(quick).create(options))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")
    assert "expired" in response.json()["message"]


def test_an_expired_sign_in_challenge_is_refused(quick: AuthgateServer) -> None:
    started = login_options(quick)
    time.sleep(0.3)
    authenticator = authenticator_for(quick)
    authenticator.create({"rp": {"id": "127.0.0.1"}, "user": {"id": "AAAA"}, "challenge": ""})
    response = refused_login(quick, authenticator.get(started["options"]), started["session"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_passkey")
    with quick.admin_client() as admin:
        failures = all_items(admin, "/admin/audit", event="passkey_login_failure")
    assert [e["detail"]["reason"] for e in failures] == ["expired challenge"]
