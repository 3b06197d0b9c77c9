"""POST /v1/login as a client sees it: tokens, refusals, throttling, clients, imports, invites."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import argon2
import bcrypt
import httpx
import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import PRODUCTION_ARGON2, AuthgateServer

PASSWORD = "lemon tree 4 harbour"
OTHER_PASSWORD = "quiet river 7 lantern"
WRONG_PASSWORD = "wrong guess 9 meadow"

_next_host = iter(range(2, 251))


def fresh_address() -> str:
    """A loopback address no other test of this module uses, so per-IP throttling is private."""
    return f"127.0.0.{next(_next_host)}"


def fresh_addresses(count: int) -> list[str]:
    return [fresh_address() for _ in range(count)]


# -- helpers ---------------------------------------------------------------------------------


def create_user(server: AuthgateServer, email: str, password: str = PASSWORD) -> str:
    """A confirmed account made by the admin API; returns its sub."""
    with server.admin_client() as admin:
        created = admin.post("/admin/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "confirmed"
    return str(created.json()["sub"])


def login(
    server: AuthgateServer,
    username: str,
    password: str,
    local_address: str | None = None,
    **extra: Any,
) -> httpx.Response:
    with server.public_client(local_address) as client:
        return client.post("/v1/login", json={"username": username, "password": password, **extra})


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without verifying it (only to look at its claims)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def assert_tokens(response: httpx.Response, expires_in: int = 3600) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == expires_in
    assert all(
        isinstance(body[k], str) and body[k] for k in ("access_token", "id_token", "refresh_token")
    )
    return body


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code


def retry_after(response: httpx.Response) -> int:
    assert_error(response, 429, "too_many_requests")
    value = response.headers["Retry-After"]
    assert value.isdigit(), value
    seconds = int(value)
    assert seconds >= 1
    return seconds


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def create_client(server: AuthgateServer, **metadata: Any) -> dict[str, Any]:
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json={"client_name": "web", **metadata})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def audit(server: AuthgateServer, **filters: str) -> list[dict[str, Any]]:
    with server.admin_client() as admin:
        found = admin.get("/admin/audit", params={"limit": "500", **filters})
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def run_cli(server: AuthgateServer, *args: str) -> subprocess.CompletedProcess[str]:
    """`authgate ARGS --config <the server's config>`, as an operator runs it beside the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    config = str(server.workdir / "authgate.yaml")
    return subprocess.run(
        [sys.executable, "-m", "authgate", *args, "--config", config],
        cwd=server.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def import_users(server: AuthgateServer, path: Path) -> dict[str, Any]:
    done = run_cli(server, "users", "import", str(path), "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def exported_hash(server: AuthgateServer, email: str) -> str:
    done = run_cli(server, "users", "export")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    (row,) = [r for r in rows if r["email"] == email]
    return str(row["password_hash"])


def write_jsonl(directory: Path, rows: list[dict[str, Any]]) -> Path:
    path = directory / f"users-{secrets.token_hex(4)}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def fast_lockout_server(make_server: ServerFactory) -> AuthgateServer:
    """Lockouts of 2 s that double, so a test can outwait one."""
    return make_server(throttle={"lockout_base": "2s", "lockout_max": "60s"})


# -- successful login ------------------------------------------------------------------------


def test_login_returns_bearer_tokens_that_must_not_be_cached(server: AuthgateServer) -> None:
    email = unique_email("ok")
    create_user(server, email)

    response = login(server, email, PASSWORD)

    assert_tokens(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_login_accepts_a_form_encoded_body(server: AuthgateServer) -> None:
    email = unique_email("form")
    create_user(server, email)

    with server.public_client() as client:
        response = client.post("/v1/login", data={"username": email, "password": PASSWORD})

    assert_tokens(response)


def test_login_username_is_case_insensitive(server: AuthgateServer) -> None:
    email = unique_email("case")
    sub = create_user(server, email)

    response = login(server, email.upper(), PASSWORD)

    body = assert_tokens(response)
    assert claims_of(body["access_token"])["sub"] == sub


# -- refusals --------------------------------------------------------------------------------


def test_unknown_user_and_wrong_password_get_the_identical_answer(server: AuthgateServer) -> None:
    email = unique_email("enum")
    create_user(server, email)
    address = fresh_address()

    wrong_password = login(server, email, WRONG_PASSWORD, address)
    unknown_user = login(server, unique_email("nobody"), WRONG_PASSWORD, address)

    assert_error(wrong_password, 401, "invalid_credentials")
    assert unknown_user.status_code == wrong_password.status_code
    assert unknown_user.json() == wrong_password.json()
    ignored = {"date", "content-length", "x-request-id"}  # a request id is per request
    assert {h for h in unknown_user.headers if h not in ignored} == {
        h for h in wrong_password.headers if h not in ignored
    }
    for name in unknown_user.headers:
        if name not in ignored:
            assert unknown_user.headers[name] == wrong_password.headers[name], name


def test_unconfirmed_account_is_reported_only_after_the_right_password(
    server: AuthgateServer,
) -> None:
    email = unique_email("unconfirmed")
    address = fresh_address()
    with server.public_client(address) as client:
        signup = client.post("/v1/signup", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 201

    assert_error(login(server, email, WRONG_PASSWORD, address), 401, "invalid_credentials")
    assert_error(login(server, email, PASSWORD, address), 403, "user_not_confirmed")


def test_disabled_account_is_refused_and_works_again_once_enabled(server: AuthgateServer) -> None:
    email = unique_email("disabled")
    sub = create_user(server, email)
    address = fresh_address()

    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
    assert_error(login(server, email, PASSWORD, address), 403, "user_disabled")
    assert_error(login(server, email, WRONG_PASSWORD, address), 401, "invalid_credentials")

    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/enable").status_code == 200
    assert_tokens(login(server, email, PASSWORD, address))


def test_disabling_an_account_revokes_its_existing_sign_ins(server: AuthgateServer) -> None:
    email = unique_email("revoked")
    sub = create_user(server, email)
    tokens = assert_tokens(login(server, email, PASSWORD))
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
    with server.public_client() as client:
        me = client.get("/v1/me", headers=bearer)
        refreshed = client.post(
            "/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert me.status_code == 401
    assert refreshed.status_code == 401


def test_sign_ins_revoked_by_disabling_stay_revoked_after_enabling(
    server: AuthgateServer,
) -> None:
    email = unique_email("still-revoked")
    sub = create_user(server, email)
    tokens = assert_tokens(login(server, email, PASSWORD))
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    with server.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
        assert admin.post(f"/admin/users/{sub}/enable").status_code == 200
    with server.public_client() as client:
        me = client.get("/v1/me", headers=bearer)
        refreshed = client.post(
            "/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert_error(me, 401, "invalid_token")
    assert_error(refreshed, 401, "invalid_token")


# -- throttling ------------------------------------------------------------------------------


def fail_from_each(server: AuthgateServer, username: str, addresses: list[str]) -> None:
    for address in addresses:
        assert_error(login(server, username, WRONG_PASSWORD, address), 401, "invalid_credentials")


def test_five_failures_lock_the_username_even_for_the_right_password(
    server: AuthgateServer,
) -> None:
    email = unique_email("locked")
    create_user(server, email)

    fail_from_each(server, email, fresh_addresses(5))
    locked = login(server, email, PASSWORD, fresh_address())

    retry_after(locked)


def test_a_username_lockout_does_not_affect_other_usernames(server: AuthgateServer) -> None:
    locked_email, other_email = unique_email("locked"), unique_email("bystander")
    create_user(server, locked_email)
    create_user(server, other_email)

    fail_from_each(server, locked_email, fresh_addresses(5))
    retry_after(login(server, locked_email, PASSWORD, fresh_address()))

    assert_tokens(login(server, other_email, PASSWORD, fresh_address()))


def test_other_spellings_of_a_username_count_against_the_same_lockout(
    server: AuthgateServer,
) -> None:
    email = unique_email("spelling")
    create_user(server, email)
    spellings = [email, email.upper(), email.title(), f" {email}", email.swapcase()]

    for spelling, address in zip(spellings, fresh_addresses(5), strict=True):
        assert_error(login(server, spelling, WRONG_PASSWORD, address), 401, "invalid_credentials")

    retry_after(login(server, email, PASSWORD, fresh_address()))


def test_unknown_and_known_usernames_are_locked_out_alike(server: AuthgateServer) -> None:
    known, unknown = unique_email("known-locked"), unique_email("unknown-locked")
    create_user(server, known)
    fail_from_each(server, known, fresh_addresses(5))
    fail_from_each(server, unknown, fresh_addresses(5))

    known_answer = login(server, known, PASSWORD, fresh_address())
    unknown_answer = login(server, unknown, PASSWORD, fresh_address())

    retry_after(known_answer)
    retry_after(unknown_answer)
    assert unknown_answer.json() == known_answer.json()
    ignored = {"date", "content-length"}
    assert {h for h in unknown_answer.headers if h not in ignored} == {
        h for h in known_answer.headers if h not in ignored
    }


def test_repeated_lockouts_last_longer(fast_lockout_server: AuthgateServer) -> None:
    server = fast_lockout_server
    email = unique_email("repeat")
    create_user(server, email)

    fail_from_each(server, email, fresh_addresses(5))
    first = retry_after(login(server, email, PASSWORD, fresh_address()))
    time.sleep(first + 0.5)
    fail_from_each(server, email, fresh_addresses(5))
    second = retry_after(login(server, email, PASSWORD, fresh_address()))

    assert second > first


def test_five_failures_from_one_address_lock_that_address(server: AuthgateServer) -> None:
    victim = unique_email("victim")
    create_user(server, victim)
    address = fresh_address()

    for _ in range(5):
        assert_error(
            login(server, unique_email("spray"), WRONG_PASSWORD, address),
            401,
            "invalid_credentials",
        )

    retry_after(login(server, victim, PASSWORD, address))
    assert_tokens(login(server, victim, PASSWORD, fresh_address()))


# -- audit -----------------------------------------------------------------------------------


def test_login_failures_are_audited_with_the_callers_address(server: AuthgateServer) -> None:
    email, stranger = unique_email("audited"), unique_email("stranger")
    sub = create_user(server, email)
    address = fresh_address()

    login(server, email, WRONG_PASSWORD, address)
    login(server, stranger, WRONG_PASSWORD, address)

    failures = [e for e in audit(server, event="login_failure") if e["ip"] == address]
    assert len(failures) == 2
    assert {e["detail"].get("username") for e in failures} == {email, stranger}
    (known,) = [e for e in failures if e["detail"].get("username") == email]
    assert known["sub"] == sub
    assert all(e["event"] == "login_failure" for e in failures)


def test_a_lockout_is_audited_with_the_address_that_caused_it(server: AuthgateServer) -> None:
    email = unique_email("lockout-audit")
    sub = create_user(server, email)
    addresses = fresh_addresses(5)
    fail_from_each(server, email, addresses)
    retry_after(login(server, email, PASSWORD, fresh_address()))

    lockouts = audit(server, sub=sub, event="lockout")

    assert len(lockouts) == 1
    assert lockouts[0]["ip"] == addresses[-1]


# -- imported users and rehashing ------------------------------------------------------------


def pbkdf2_fields(password: str) -> dict[str, str]:
    """The layout a hand-written FastAPI service keeps: hex salt and hex PBKDF2 digest."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100000)
    return {"salt": salt.hex(), "hash": digest.hex()}


def django_stored(password: str) -> str:
    """Django's `pbkdf2_sha256$iterations$salt$digest`: a 22-character text salt, hashed as
    its UTF-8 bytes, and the digest in standard base64."""
    alphabet = string.ascii_letters + string.digits
    salt = "".join(secrets.choice(alphabet) for _ in range(22))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 260000)
    return f"pbkdf2_sha256$260000${salt}${base64.b64encode(digest).decode()}"


def passlib_stored(password: str) -> str:
    """passlib's `$pbkdf2-sha256$iterations$salt$digest`: raw salt bytes, salt and digest in
    adapted base64 ("." for "+", no padding)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 29000)

    def ab64(raw: bytes) -> str:
        return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")

    return f"$pbkdf2-sha256$29000${ab64(salt)}${ab64(digest)}"


def bcrypt_stored(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def test_imported_legacy_hashes_sign_in_and_are_rehashed_to_argon2id(
    server: AuthgateServer, tmp_path: Path
) -> None:
    users = {
        unique_email("bcrypt"): {"password_hash": bcrypt_stored(PASSWORD)},
        unique_email("fastapi"): pbkdf2_fields(PASSWORD),
        unique_email("django"): {"password_hash": django_stored(PASSWORD)},
        unique_email("passlib"): {"password_hash": passlib_stored(PASSWORD)},
    }
    path = write_jsonl(tmp_path, [{"email": e, **fields} for e, fields in users.items()])

    report = import_users(server, path)

    assert report == {"imported": 4, "refused": []}
    for email in users:
        assert not exported_hash(server, email).startswith("$argon2id$")
        assert_tokens(login(server, email, PASSWORD))
        assert exported_hash(server, email).startswith("$argon2id$"), email
        assert_tokens(login(server, email, PASSWORD))


def test_imported_users_are_refused_a_wrong_password(
    server: AuthgateServer, tmp_path: Path
) -> None:
    users = {
        unique_email("bcrypt-wrong"): {"password_hash": bcrypt_stored(PASSWORD)},
        unique_email("fastapi-wrong"): pbkdf2_fields(PASSWORD),
        unique_email("django-wrong"): {"password_hash": django_stored(PASSWORD)},
        unique_email("passlib-wrong"): {"password_hash": passlib_stored(PASSWORD)},
    }
    path = write_jsonl(tmp_path, [{"email": e, **fields} for e, fields in users.items()])
    assert import_users(server, path)["imported"] == 4
    address = fresh_address()

    for email in users:
        assert_error(login(server, email, WRONG_PASSWORD, address), 401, "invalid_credentials")
        assert not exported_hash(server, email).startswith("$argon2id$")


def test_csv_import_refuses_an_unsupported_hash_and_imports_the_rest(
    server: AuthgateServer, tmp_path: Path
) -> None:
    good, bad, also_good = unique_email("csv"), unique_email("md5"), unique_email("csv")
    path = tmp_path / "users.csv"
    path.write_text(
        "email,password_hash\n"
        f"{good},{bcrypt_stored(PASSWORD)}\n"
        f"{bad},md5$5f4dcc3b5aa765d61d8327deb882cf99\n"
        f"{also_good},{django_stored(PASSWORD)}\n"
    )

    report = import_users(server, path)

    assert report["imported"] == 2
    (refused,) = report["refused"]
    assert refused["line"] == 3
    assert isinstance(refused["reason"], str) and refused["reason"]
    assert_tokens(login(server, good, PASSWORD))
    assert_tokens(login(server, also_good, PASSWORD))
    assert_error(login(server, bad, PASSWORD, fresh_address()), 401, "invalid_credentials")


def test_argon2id_hash_with_weaker_parameters_is_upgraded_at_login(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(passwords={"argon2": PRODUCTION_ARGON2})
    email = unique_email("weak-argon2")
    weak = argon2.PasswordHasher(
        memory_cost=1024, time_cost=1, parallelism=1, type=argon2.Type.ID
    ).hash(PASSWORD)
    assert weak.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert (
        import_users(server, write_jsonl(tmp_path, [{"email": email, "password_hash": weak}]))[
            "imported"
        ]
        == 1
    )

    assert_tokens(login(server, email, PASSWORD))

    assert exported_hash(server, email).startswith("$argon2id$v=19$m=19456,t=2,p=1$")


# -- app clients and SECRET_HASH -------------------------------------------------------------


@pytest.fixture(scope="module")
def confidential_client(server: AuthgateServer) -> dict[str, Any]:
    client = create_client(
        server,
        grant_types=["password", "refresh_token"],
        token_endpoint_auth_method="client_secret_basic",
    )
    assert client["client_id"] and client["client_secret"]
    return client


def test_confidential_client_login_without_secret_hash_is_refused(
    server: AuthgateServer, confidential_client: dict[str, Any]
) -> None:
    email = unique_email("nohash")
    create_user(server, email)

    response = login(server, email, PASSWORD, client_id=confidential_client["client_id"])

    assert_error(response, 401, "invalid_client")


def test_confidential_client_login_with_a_wrong_secret_hash_is_refused(
    server: AuthgateServer, confidential_client: dict[str, Any]
) -> None:
    email = unique_email("badhash")
    create_user(server, email)
    client_id = confidential_client["client_id"]

    response = login(
        server,
        email,
        PASSWORD,
        client_id=client_id,
        secret_hash=secret_hash("not-the-secret", email, client_id),
    )

    assert_error(response, 401, "invalid_client")


def test_confidential_client_login_with_the_right_secret_hash_issues_tokens_for_it(
    server: AuthgateServer, confidential_client: dict[str, Any]
) -> None:
    email = unique_email("goodhash")
    create_user(server, email)
    client_id = confidential_client["client_id"]

    response = login(
        server,
        email,
        PASSWORD,
        client_id=client_id,
        secret_hash=secret_hash(confidential_client["client_secret"], email, client_id),
    )

    claims = claims_of(assert_tokens(response)["access_token"])
    assert claims["client_id"] == client_id
    assert claims["aud"] == client_id or client_id in claims["aud"]


def test_client_without_the_password_grant_cannot_sign_users_in(server: AuthgateServer) -> None:
    client = create_client(
        server,
        grant_types=["client_credentials"],
        token_endpoint_auth_method="client_secret_basic",
    )
    email = unique_email("nogrant")
    create_user(server, email)

    response = login(
        server,
        email,
        PASSWORD,
        client_id=client["client_id"],
        secret_hash=secret_hash(client["client_secret"], email, client["client_id"]),
    )

    assert_error(response, 401, "invalid_client")


def test_unknown_client_id_is_refused(server: AuthgateServer) -> None:
    email = unique_email("noclient")
    create_user(server, email)

    response = login(server, email, PASSWORD, client_id="no-such-client")

    assert_error(response, 401, "invalid_client")


def test_client_access_token_lifetime_sets_expires_in(server: AuthgateServer) -> None:
    client = create_client(server, token_endpoint_auth_method="none", access_token_ttl=600)
    email = unique_email("ttl")
    create_user(server, email)

    response = login(server, email, PASSWORD, client_id=client["client_id"])

    claims = claims_of(assert_tokens(response, expires_in=600)["access_token"])
    assert claims["exp"] - claims["iat"] == 600


# -- invited users ---------------------------------------------------------------------------


def invite(server: AuthgateServer, email: str) -> str:
    """Invite a user; return the temporary password from the invitation mail."""
    with server.admin_client() as admin:
        created = admin.post("/admin/users", json={"email": email, "send_invite": True})
    assert created.status_code == 201, created.text
    body = server.wait_for_mail(email).body
    # The password stands alone on its line; every other non-empty line is prose with spaces.
    (temporary,) = [
        line.strip() for line in body.splitlines() if line.strip() and " " not in line.strip()
    ]
    return temporary


def test_invited_user_must_choose_a_new_password(server: AuthgateServer) -> None:
    email = unique_email("invited")
    temporary = invite(server, email)

    response = login(server, email, temporary)

    assert_error(response, 403, "new_password_required")


def test_invited_user_signs_in_by_choosing_a_new_password(server: AuthgateServer) -> None:
    email = unique_email("invited")
    temporary = invite(server, email)

    assert_tokens(login(server, email, temporary, new_password=PASSWORD))

    address = fresh_address()
    assert_tokens(login(server, email, PASSWORD, address))
    assert_error(login(server, email, temporary, address), 401, "invalid_credentials")
