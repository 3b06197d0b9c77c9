"""The admin API as an operator's client sees it: auth, users, groups, clients, keys, audit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import secrets
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
OTHER_PASSWORD = "copper kettle 7 meadow"
THIRD_PASSWORD = "violet harbor 9 lantern"


# -- helpers ---------------------------------------------------------------------------


def create_user(admin: httpx.Client, email: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email or unique_email("admin"), "password": PASSWORD}
    body.update(fields)
    response = admin.post("/admin/users", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def login(client: httpx.Client, username: str, password: str, **extra: Any) -> httpx.Response:
    return client.post("/v1/login", json={"username": username, "password": password, **extra})


def tokens_of(client: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = login(client, username, password)
    assert response.status_code == 200, response.text
    return dict(response.json())


def signup_unconfirmed(client: httpx.Client, email: str) -> str:
    response = client.post("/v1/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return str(response.json()["sub"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def jwt_payload(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without verifying it."""
    segment = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def jwt_kid(token: str) -> str:
    segment = token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return str(header["kid"])


def all_items(admin: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, following `next` cursors."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = admin.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body["next"]
        if cursor is None:
            return items
    raise AssertionError(f"{path} never ended its pages")


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("message"), str)
    if code is not None:
        assert body["error"] == code, body
    return body


def confidential_client_metadata(**overrides: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "client_name": f"web-{secrets.token_hex(3)}",
        "grant_types": ["password", "refresh_token"],
        "redirect_uris": ["https://app.example.com/callback"],
        "scope": "openid email",
        "token_endpoint_auth_method": "client_secret_post",
        "first_party": True,
    }
    metadata.update(overrides)
    return metadata


# -- admin authentication and the two listeners ----------------------------------------


@pytest.fixture(scope="module")
def targets(server: AuthgateServer) -> dict[str, str]:
    """Existing resources, so a refusal can't be mistaken for a missing-resource answer."""
    with server.admin_client() as admin:
        user = create_user(admin)
        group = f"targets-{secrets.token_hex(4)}"
        assert admin.post("/admin/groups", json={"name": group}).status_code == 201
        client = admin.post("/admin/clients", json=confidential_client_metadata())
        assert client.status_code == 201
    return {"sub": user["sub"], "group": group, "client_id": client.json()["client_id"]}


ADMIN_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/admin/users", {"email": "x-{nonce}@example.com", "password": PASSWORD}),
    ("GET", "/admin/users", None),
    ("GET", "/admin/users/{sub}", None),
    ("PATCH", "/admin/users/{sub}", {"given_name": "Mallory"}),
    ("DELETE", "/admin/users/{sub}", None),
    ("POST", "/admin/users/{sub}/disable", None),
    ("POST", "/admin/users/{sub}/enable", None),
    ("POST", "/admin/users/{sub}/confirm", None),
    ("POST", "/admin/users/{sub}/reset-password", None),
    ("POST", "/admin/users/{sub}/sign-out", None),
    ("PUT", "/admin/users/{sub}/password", {"password": OTHER_PASSWORD, "permanent": True}),
    ("POST", "/admin/groups", {"name": "g-{nonce}"}),
    ("GET", "/admin/groups", None),
    ("DELETE", "/admin/groups/{group}", None),
    ("PUT", "/admin/groups/{group}/members/{sub}", None),
    ("DELETE", "/admin/groups/{group}/members/{sub}", None),
    ("POST", "/admin/clients", {"client_name": "c-{nonce}"}),
    ("GET", "/admin/clients", None),
    ("GET", "/admin/clients/{client_id}", None),
    ("PATCH", "/admin/clients/{client_id}", {"client_name": "renamed"}),
    ("DELETE", "/admin/clients/{client_id}", None),
    ("POST", "/admin/clients/{client_id}/secret", None),
    ("GET", "/admin/keys", None),
    ("POST", "/admin/keys/rotate", None),
    ("GET", "/admin/audit", None),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ADMIN_ENDPOINTS]


def call_admin(
    server: AuthgateServer,
    targets: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> httpx.Response:
    nonce = secrets.token_hex(4)
    url = path.format(nonce=nonce, **targets)
    payload = json.loads(json.dumps(body).replace("{nonce}", nonce)) if body else None
    with httpx.Client(base_url=server.admin, timeout=30, headers=headers) as client:
        return client.request(method, url, json=payload)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS, ids=ENDPOINT_IDS)
def test_admin_endpoint_without_token_is_401(
    server: AuthgateServer,
    targets: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = call_admin(server, targets, method, path, body, headers={})
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS, ids=ENDPOINT_IDS)
def test_admin_endpoint_with_wrong_token_is_401(
    server: AuthgateServer,
    targets: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    headers = {"Authorization": "Bearer " + secrets.token_urlsafe(32)}
    response = call_admin(server, targets, method, path, body, headers=headers)
    assert_error(response, 401, "unauthorized")


def test_near_miss_admin_credentials_are_401(server: AuthgateServer) -> None:
    token = server.admin_token
    near_misses = [
        {"Authorization": f"Bearer {token}x"},
        {"Authorization": f"Bearer {token[:-1]}"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
        {"Authorization": "Bearer"},
        {"X-Admin-Token": token},
    ]
    for headers in near_misses:
        with httpx.Client(base_url=server.admin, timeout=30, headers=headers) as client:
            assert_error(client.get("/admin/users"), 401, "unauthorized")
            assert_error(client.get("/admin/users", params={"token": token}), 401, "unauthorized")


def test_refused_admin_call_changes_nothing(server: AuthgateServer) -> None:
    name = f"refused-{secrets.token_hex(4)}"
    email = unique_email("refused")
    with httpx.Client(base_url=server.admin, timeout=30) as anonymous:
        assert anonymous.post("/admin/groups", json={"name": name}).status_code == 401
        created = anonymous.post("/admin/users", json={"email": email, "password": PASSWORD})
        assert created.status_code == 401
    with server.admin_client() as admin:
        assert name not in [g["name"] for g in all_items(admin, "/admin/groups")]
        assert all_items(admin, "/admin/users", email_prefix=email) == []


def test_admin_api_is_not_served_on_the_public_listener(server: AuthgateServer) -> None:
    with httpx.Client(base_url=server.public, timeout=30, headers=bearer(server.admin_token)) as c:
        assert_error(c.get("/admin/users"), 404)
        assert_error(c.get("/admin/keys"), 404)
        assert c.post(
            "/admin/users", json={"email": unique_email(), "password": PASSWORD}
        ).status_code in (
            404,
            405,
        )


@pytest.mark.parametrize("listener", ["public", "admin"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_probes_answer_200_on_both_listeners(
    server: AuthgateServer, listener: str, path: str
) -> None:
    response = httpx.get(getattr(server, listener) + path, timeout=30)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("listener", "operation"), [("public", "/v1/signup"), ("admin", "/admin/users")]
)
def test_docs_page_lists_operations_without_external_assets(
    server: AuthgateServer, listener: str, operation: str
) -> None:
    base = getattr(server, listener)
    with server.admin_client() as client:
        response = client.get(base + "/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert operation in page
    assert "cdn" not in page.lower()
    for url in re.findall(r"(?:https?:)?//[^\s\"'<>()]+", page, flags=re.IGNORECASE):
        assert url.startswith((server.public, server.admin)), f"external reference {url}"


@pytest.mark.parametrize(
    ("listener", "operation"), [("public", "/v1/signup"), ("admin", "/admin/users")]
)
def test_openapi_document_is_served_on_both_listeners(
    server: AuthgateServer, listener: str, operation: str
) -> None:
    with server.admin_client() as client:
        response = client.get(getattr(server, listener) + "/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert isinstance(document["paths"], dict)
    assert operation in document["paths"]


# -- users -----------------------------------------------------------------------------


def test_create_user_answers_201_with_a_confirmed_enabled_account(server: AuthgateServer) -> None:
    email = unique_email("created")
    with server.admin_client() as admin:
        response = admin.post("/admin/users", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert uuid.UUID(body["sub"])
    assert body["username"] == email
    assert body["email"] == email
    assert body["status"] == "confirmed"
    assert body["enabled"] is True
    assert body["groups"] == []
    assert body["attributes"] == {}
    assert "password" not in body and "password_hash" not in body
    assert PASSWORD not in response.text


def test_created_user_can_log_in_at_once(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
    with server.public_client() as client:
        tokens = tokens_of(client, user["username"])
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["sub"] == user["sub"]


def test_duplicate_username_is_409_already_exists(server: AuthgateServer) -> None:
    username = f"dup-{secrets.token_hex(4)}"
    with server.admin_client() as admin:
        create_user(admin, username=username)
        again = admin.post(
            "/admin/users",
            json={"email": unique_email("dup"), "password": PASSWORD, "username": username},
        )
    assert_error(again, 409, "already_exists")


def test_duplicate_email_as_username_is_409_already_exists(server: AuthgateServer) -> None:
    email = unique_email("dupmail")
    with server.admin_client() as admin:
        create_user(admin, email)
        again = admin.post("/admin/users", json={"email": email.upper(), "password": PASSWORD})
    assert_error(again, 409, "already_exists")


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "two@@example.com", ""])
def test_create_user_with_invalid_email_is_400(server: AuthgateServer, email: str) -> None:
    with server.admin_client() as admin:
        response = admin.post("/admin/users", json={"email": email, "password": PASSWORD})
    assert_error(response, 400, "invalid_request")


def test_create_user_with_weak_password_is_400_invalid_password(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        short = admin.post("/admin/users", json={"email": unique_email(), "password": "Ab1!"})
        common = admin.post("/admin/users", json={"email": unique_email(), "password": "password1"})
    assert "min_length" in assert_error(short, 400, "invalid_password")["rules"]
    assert "common_password" in assert_error(common, 400, "invalid_password")["rules"]


def test_create_user_with_unknown_field_is_400_invalid_request(server: AuthgateServer) -> None:
    email = unique_email("unknown-field")
    with server.admin_client() as admin:
        response = admin.post(
            "/admin/users", json={"email": email, "password": PASSWORD, "is_admin": True}
        )
        assert_error(response, 400, "invalid_request")
        assert all_items(admin, "/admin/users", email_prefix=email) == []


def test_get_user_answers_its_view(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        response = admin.get(f"/admin/users/{user['sub']}")
    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == user["sub"]
    assert body["email"] == user["email"]
    assert body["status"] == "confirmed"
    assert body["enabled"] is True


@pytest.mark.parametrize(
    "sub",
    # a fresh UUID each run, under an id that every pytest-xdist worker collects alike
    [pytest.param(str(uuid.uuid4()), id="random-uuid"), "nobody", "x" * 200, "%2e%2e"],
)
def test_get_unknown_user_is_404_not_found(server: AuthgateServer, sub: str) -> None:
    with server.admin_client() as admin:
        assert_error(admin.get(f"/admin/users/{sub}"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"given_name": "Ada"}),
        ("DELETE", "", None),
        ("POST", "/disable", None),
        ("POST", "/enable", None),
        ("POST", "/confirm", None),
        ("POST", "/reset-password", None),
        ("POST", "/sign-out", None),
        ("PUT", "/password", {"password": PASSWORD, "permanent": True}),
    ],
)
def test_actions_on_unknown_user_are_404_not_found(
    server: AuthgateServer, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    with server.admin_client() as admin:
        response = admin.request(method, f"/admin/users/{uuid.uuid4()}{suffix}", json=body)
    assert_error(response, 404, "not_found")


def test_patch_user_sets_attributes(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        patched = admin.patch(f"/admin/users/{user['sub']}", json={"given_name": "Ada"})
        fetched = admin.get(f"/admin/users/{user['sub']}")
    assert patched.status_code == 200
    assert patched.json()["attributes"]["given_name"] == "Ada"
    assert fetched.json()["attributes"]["given_name"] == "Ada"


def test_patch_user_with_undeclared_attribute_is_400_invalid_attribute(
    server: AuthgateServer,
) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        response = admin.patch(f"/admin/users/{user['sub']}", json={"shoe_size": "44"})
        fetched = admin.get(f"/admin/users/{user['sub']}")
    body = assert_error(response, 400, "invalid_attribute")
    assert "shoe_size" in body["message"]
    assert "shoe_size" not in fetched.json()["attributes"]


def test_deleted_user_is_gone_and_cannot_log_in(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        deleted = admin.delete(f"/admin/users/{user['sub']}")
        fetched = admin.get(f"/admin/users/{user['sub']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(fetched, 404, "not_found")
    with server.public_client(local_address="127.0.0.10") as client:
        assert_error(login(client, user["username"], PASSWORD), 401, "invalid_credentials")


def test_deleting_a_user_ends_their_sessions(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        user = create_user(admin)
        tokens = tokens_of(client, user["username"])
        assert admin.delete(f"/admin/users/{user['sub']}").status_code == 204
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
        refreshed = client.post(
            "/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert_error(me, 401, "invalid_token")
    assert_error(refreshed, 401, "invalid_token")


def test_create_user_with_attributes_keeps_them(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin, attributes={"given_name": "Grace", "family_name": "Hopper"})
        fetched = admin.get(f"/admin/users/{user['sub']}").json()
    assert user["attributes"] == {"given_name": "Grace", "family_name": "Hopper"}
    assert fetched["attributes"] == user["attributes"]


def test_create_user_with_undeclared_attribute_is_400_invalid_attribute(
    server: AuthgateServer,
) -> None:
    email = unique_email("undeclared")
    with server.admin_client() as admin:
        response = admin.post(
            "/admin/users",
            json={"email": email, "password": PASSWORD, "attributes": {"custom:role": "admin"}},
        )
        assert all_items(admin, "/admin/users", email_prefix=email) == []
    assert "custom:role" in assert_error(response, 400, "invalid_attribute")["message"]


def test_invited_user_gets_a_temporary_password_to_replace(server: AuthgateServer) -> None:
    email = unique_email("invited")
    with server.admin_client() as admin:
        response = admin.post("/admin/users", json={"email": email, "send_invite": True})
    assert response.status_code == 201
    assert response.json()["status"] == "force_change_password"
    mail = server.wait_for_mail(email)
    lines = [line.strip() for line in mail.body.splitlines()]
    temporary = next(line for line in lines if len(line) >= 8 and " " not in line and line != email)
    with server.public_client() as client:
        assert_error(login(client, email, temporary), 403, "new_password_required")
        changed = login(client, email, temporary, new_password=OTHER_PASSWORD)
        assert changed.status_code == 200, changed.text
        assert login(client, email, OTHER_PASSWORD).status_code == 200


# -- listing users ---------------------------------------------------------------------


def test_user_list_pages_by_username_with_cursors(server: AuthgateServer) -> None:
    prefix = f"page-{secrets.token_hex(4)}-"
    emails = [f"{prefix}{letter}@example.com" for letter in "abcdefg"]
    with server.admin_client() as admin:
        for email in random.sample(emails, len(emails)):
            create_user(admin, email)
        pages: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(pages) < 10:
            params: dict[str, Any] = {"username_prefix": prefix, "limit": 3}
            if cursor is not None:
                params["cursor"] = cursor
            response = admin.get("/admin/users", params=params)
            assert response.status_code == 200, response.text
            pages.append(response.json())
            cursor = pages[-1]["next"]
            if cursor is None:
                break
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert [p["next"] is None for p in pages] == [False, False, True]
    usernames = [u["username"] for p in pages for u in p["items"]]
    assert usernames == sorted(emails)


@pytest.mark.parametrize("field", ["username_prefix", "email_prefix"])
@pytest.mark.parametrize("prefix", ["%", "_", "%@%", "\\"])
def test_user_list_prefix_wildcards_are_literal(
    server: AuthgateServer, field: str, prefix: str
) -> None:
    with server.admin_client() as admin:
        create_user(admin)
        response = admin.get("/admin/users", params={field: prefix})
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize("limit", [1, 500])
def test_user_list_accepts_limits_from_1_to_500(server: AuthgateServer, limit: int) -> None:
    with server.admin_client() as admin:
        create_user(admin)
        create_user(admin)
        response = admin.get("/admin/users", params={"limit": limit})
    assert response.status_code == 200
    assert 1 <= len(response.json()["items"]) <= limit


def test_user_list_filters_by_email_prefix_case_insensitively(server: AuthgateServer) -> None:
    prefix = f"mail-{secrets.token_hex(4)}-"
    with server.admin_client() as admin:
        created = {create_user(admin, f"{prefix}{i}@example.com")["sub"] for i in range(3)}
        create_user(admin, f"other-{prefix}@example.com")
        lower = all_items(admin, "/admin/users", email_prefix=prefix)
        upper = all_items(admin, "/admin/users", email_prefix=prefix.upper())
    assert {u["sub"] for u in lower} == created
    assert {u["sub"] for u in upper} == created


def test_user_list_filters_by_status(server: AuthgateServer) -> None:
    prefix = f"status-{secrets.token_hex(4)}-"
    with server.admin_client() as admin, server.public_client() as client:
        confirmed = create_user(admin, f"{prefix}admin@example.com")
        unconfirmed_sub = signup_unconfirmed(client, f"{prefix}self@example.com")
        pending = all_items(admin, "/admin/users", username_prefix=prefix, status="unconfirmed")
        done = all_items(admin, "/admin/users", username_prefix=prefix, status="confirmed")
    assert [u["sub"] for u in pending] == [unconfirmed_sub]
    assert pending[0]["status"] == "unconfirmed"
    assert [u["sub"] for u in done] == [confirmed["sub"]]


def test_user_list_filters_by_enabled(server: AuthgateServer) -> None:
    prefix = f"enabled-{secrets.token_hex(4)}-"
    with server.admin_client() as admin:
        kept = create_user(admin, f"{prefix}kept@example.com")
        gone = create_user(admin, f"{prefix}gone@example.com")
        assert admin.post(f"/admin/users/{gone['sub']}/disable").status_code == 200
        disabled = all_items(admin, "/admin/users", username_prefix=prefix, enabled="false")
        enabled = all_items(admin, "/admin/users", username_prefix=prefix, enabled="true")
    assert [u["sub"] for u in disabled] == [gone["sub"]]
    assert disabled[0]["enabled"] is False
    assert [u["sub"] for u in enabled] == [kept["sub"]]


def test_user_list_filters_by_group(server: AuthgateServer) -> None:
    prefix = f"grouped-{secrets.token_hex(4)}-"
    group = f"team-{secrets.token_hex(4)}"
    with server.admin_client() as admin:
        member = create_user(admin, f"{prefix}in@example.com")
        create_user(admin, f"{prefix}out@example.com")
        assert admin.post("/admin/groups", json={"name": group}).status_code == 201
        assert admin.put(f"/admin/groups/{group}/members/{member['sub']}").status_code == 204
        members = all_items(admin, "/admin/users", group=group)
    assert [u["sub"] for u in members] == [member["sub"]]
    assert group in members[0]["groups"]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "active"},
        {"status": "CONFIRMED"},
        {"limit": 0},
        {"limit": 1000},
        {"limit": -1},
        {"limit": "many"},
        {"enabled": "perhaps"},
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()),
)
def test_user_list_with_invalid_query_is_400(
    server: AuthgateServer, params: dict[str, Any]
) -> None:
    with server.admin_client() as admin:
        assert_error(admin.get("/admin/users", params=params), 400, "invalid_request")


# -- disable, enable, confirm ----------------------------------------------------------


def test_disabled_user_cannot_log_in(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        response = admin.post(f"/admin/users/{user['sub']}/disable")
        fetched = admin.get(f"/admin/users/{user['sub']}")
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert fetched.json()["enabled"] is False
    with server.public_client() as client:
        assert_error(login(client, user["username"], PASSWORD), 403, "user_disabled")


def test_disabling_cuts_off_existing_sessions(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        user = create_user(admin)
        tokens = tokens_of(client, user["username"])
        assert admin.post(f"/admin/users/{user['sub']}/disable").status_code == 200
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
        refreshed = client.post(
            "/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert_error(me, 401, "invalid_token")
    assert_error(refreshed, 401, "invalid_token")


def test_enabled_user_can_log_in_again(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        user = create_user(admin)
        assert admin.post(f"/admin/users/{user['sub']}/disable").status_code == 200
        response = admin.post(f"/admin/users/{user['sub']}/enable")
        assert response.status_code == 200
        assert response.json()["enabled"] is True
        assert login(client, user["username"], PASSWORD).status_code == 200


def test_confirming_a_self_signed_up_user_lets_them_log_in(server: AuthgateServer) -> None:
    email = unique_email("confirm")
    with server.admin_client() as admin, server.public_client() as client:
        sub = signup_unconfirmed(client, email)
        assert_error(login(client, email, PASSWORD), 403, "user_not_confirmed")
        response = admin.post(f"/admin/users/{sub}/confirm")
        assert response.status_code == 200
        assert response.json()["status"] == "confirmed"
        assert admin.get(f"/admin/users/{sub}").json()["status"] == "confirmed"
        assert login(client, email, PASSWORD).status_code == 200


# -- passwords -------------------------------------------------------------------------


def test_set_permanent_password_replaces_the_old_one(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        response = admin.put(
            f"/admin/users/{user['sub']}/password",
            json={"password": OTHER_PASSWORD, "permanent": True},
        )
    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"
    with server.public_client(local_address="127.0.0.11") as client:
        assert login(client, user["username"], OTHER_PASSWORD).status_code == 200
        assert_error(login(client, user["username"], PASSWORD), 401, "invalid_credentials")


def test_set_temporary_password_requires_a_new_one_at_login(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        response = admin.put(
            f"/admin/users/{user['sub']}/password",
            json={"password": OTHER_PASSWORD, "permanent": False},
        )
    assert response.status_code == 200
    assert response.json()["status"] == "force_change_password"
    with server.public_client() as client:
        assert_error(login(client, user["username"], OTHER_PASSWORD), 403, "new_password_required")


def test_set_password_with_weak_password_is_400_invalid_password(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        response = admin.put(
            f"/admin/users/{user['sub']}/password", json={"password": "short", "permanent": True}
        )
    assert_error(response, 400, "invalid_password")
    with server.public_client() as client:
        assert login(client, user["username"], PASSWORD).status_code == 200


def test_setting_a_password_revokes_existing_sessions(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        user = create_user(admin)
        tokens = tokens_of(client, user["username"])
        response = admin.put(
            f"/admin/users/{user['sub']}/password",
            json={"password": OTHER_PASSWORD, "permanent": True},
        )
        assert response.status_code == 200
        refreshed = client.post(
            "/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
    assert_error(refreshed, 401, "invalid_token")
    assert_error(me, 401, "invalid_token")


def test_admin_reset_password_mails_a_code_that_resets_the_password(
    server: AuthgateServer,
) -> None:
    email = unique_email("reset")
    with server.admin_client() as admin:
        user = create_user(admin, email)
        response = admin.post(f"/admin/users/{user['sub']}/reset-password")
    assert response.status_code == 202
    code = server.wait_for_mail(email).code
    assert code is not None
    with server.public_client() as client:
        reset = client.post(
            "/v1/password/reset",
            json={"username": email, "code": code, "new_password": THIRD_PASSWORD},
        )
        assert reset.status_code == 200, reset.text
        assert login(client, email, THIRD_PASSWORD).status_code == 200


# -- sign out everywhere ---------------------------------------------------------------


def test_admin_sign_out_revokes_access_and_refresh_tokens(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        user = create_user(admin)
        tokens = tokens_of(client, user["username"])
        assert client.get("/v1/me", headers=bearer(tokens["access_token"])).status_code == 200
        response = admin.post(f"/admin/users/{user['sub']}/sign-out")
        assert response.status_code == 200
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
        refreshed = client.post(
            "/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert_error(me, 401, "invalid_token")
    assert_error(refreshed, 401, "invalid_token")


def test_admin_sign_out_leaves_later_logins_working(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        user = create_user(admin)
        tokens_of(client, user["username"])
        assert admin.post(f"/admin/users/{user['sub']}/sign-out").status_code == 200
        fresh = tokens_of(client, user["username"])
        me = client.get("/v1/me", headers=bearer(fresh["access_token"]))
        refreshed = client.post("/v1/token/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert me.status_code == 200
    assert refreshed.status_code == 200


# -- groups ----------------------------------------------------------------------------


def new_group(admin: httpx.Client, description: str = "") -> str:
    name = f"group-{secrets.token_hex(4)}"
    response = admin.post("/admin/groups", json={"name": name, "description": description})
    assert response.status_code == 201, response.text
    return name


def test_create_group_answers_201_with_name_and_description(server: AuthgateServer) -> None:
    name = f"readers-{secrets.token_hex(4)}"
    with server.admin_client() as admin:
        response = admin.post("/admin/groups", json={"name": name, "description": "Read only"})
    assert response.status_code == 201
    assert response.json()["name"] == name
    assert response.json()["description"] == "Read only"


def test_duplicate_group_is_409_already_exists(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        name = new_group(admin)
        again = admin.post("/admin/groups", json={"name": name, "description": "again"})
    assert_error(again, 409, "already_exists")


def test_group_list_contains_the_created_group(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        name = new_group(admin, "listed")
        first = admin.get("/admin/groups")
        listed = all_items(admin, "/admin/groups")
    assert first.status_code == 200
    assert set(first.json()) == {"items", "next"}
    found = [g for g in listed if g["name"] == name]
    assert len(found) == 1
    assert found[0]["description"] == "listed"


def test_adding_a_member_twice_is_204_both_times(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        name = new_group(admin)
        user = create_user(admin)
        first = admin.put(f"/admin/groups/{name}/members/{user['sub']}")
        second = admin.put(f"/admin/groups/{name}/members/{user['sub']}")
        groups = admin.get(f"/admin/users/{user['sub']}").json()["groups"]
    assert first.status_code == 204
    assert second.status_code == 204
    assert groups == [name]


def test_member_group_is_in_the_next_access_token_and_user_view(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        name = new_group(admin)
        user = create_user(admin)
        assert admin.put(f"/admin/groups/{name}/members/{user['sub']}").status_code == 204
        tokens = tokens_of(client, user["username"])
        view = admin.get(f"/admin/users/{user['sub']}").json()
    assert name in jwt_payload(tokens["access_token"])["groups"]
    assert name in view["groups"]


def test_removing_a_member_is_204_then_404(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        name = new_group(admin)
        user = create_user(admin)
        assert admin.put(f"/admin/groups/{name}/members/{user['sub']}").status_code == 204
        first = admin.delete(f"/admin/groups/{name}/members/{user['sub']}")
        second = admin.delete(f"/admin/groups/{name}/members/{user['sub']}")
        groups = admin.get(f"/admin/users/{user['sub']}").json()["groups"]
    assert first.status_code == 204
    assert_error(second, 404, "not_found")
    assert name not in groups


def test_unknown_group_is_404_not_found(server: AuthgateServer) -> None:
    missing = f"missing-{secrets.token_hex(4)}"
    with server.admin_client() as admin:
        user = create_user(admin)
        assert_error(admin.put(f"/admin/groups/{missing}/members/{user['sub']}"), 404, "not_found")
        assert_error(
            admin.delete(f"/admin/groups/{missing}/members/{user['sub']}"), 404, "not_found"
        )
        assert_error(admin.delete(f"/admin/groups/{missing}"), 404, "not_found")
        assert admin.get(f"/admin/users/{user['sub']}").json()["groups"] == []


def test_adding_an_unknown_user_to_a_group_is_404(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        name = new_group(admin)
        assert_error(admin.put(f"/admin/groups/{name}/members/{uuid.uuid4()}"), 404, "not_found")


def test_deleting_a_group_removes_it_from_its_members(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        name = new_group(admin)
        user = create_user(admin)
        assert admin.put(f"/admin/groups/{name}/members/{user['sub']}").status_code == 204
        deleted = admin.delete(f"/admin/groups/{name}")
        view = admin.get(f"/admin/users/{user['sub']}").json()
        listed = [g["name"] for g in all_items(admin, "/admin/groups")]
        tokens = tokens_of(client, user["username"])
    assert deleted.status_code == 204
    assert name not in view["groups"]
    assert name not in listed
    assert name not in jwt_payload(tokens["access_token"]).get("groups", [])


# -- clients ---------------------------------------------------------------------------


def test_create_client_returns_id_secret_and_the_metadata(server: AuthgateServer) -> None:
    metadata = confidential_client_metadata()
    with server.admin_client() as admin:
        response = admin.post("/admin/clients", json=metadata)
    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["client_id"], str) and body["client_id"]
    assert isinstance(body["client_secret"], str) and len(body["client_secret"]) >= 43
    for key, value in metadata.items():
        assert body[key] == value, key


def test_client_secret_is_never_shown_again(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=confidential_client_metadata()).json()
        fetched = admin.get(f"/admin/clients/{created['client_id']}")
        listed = admin.get("/admin/clients", params={"limit": 500})
    assert fetched.status_code == 200
    assert fetched.json()["client_id"] == created["client_id"]
    assert "client_secret" not in fetched.json()
    assert created["client_secret"] not in fetched.text
    assert created["client_secret"] not in listed.text
    assert all("client_secret" not in c for c in listed.json()["items"])


def test_client_list_contains_the_created_client(server: AuthgateServer) -> None:
    metadata = confidential_client_metadata()
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=metadata).json()
        first = admin.get("/admin/clients")
        listed = all_items(admin, "/admin/clients")
    assert set(first.json()) == {"items", "next"}
    found = [c for c in listed if c["client_id"] == created["client_id"]]
    assert len(found) == 1
    assert found[0]["client_name"] == metadata["client_name"]


def test_public_client_gets_no_secret(server: AuthgateServer) -> None:
    metadata = confidential_client_metadata(token_endpoint_auth_method="none")
    with server.admin_client() as admin:
        response = admin.post("/admin/clients", json=metadata)
    assert response.status_code == 201
    assert response.json()["token_endpoint_auth_method"] == "none"
    assert response.json().get("client_secret") is None


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"grant_types": ["implicit"]}, "grant_types", "invalid_request"),
        (
            {"redirect_uris": ["https://app.example.com/cb#frag"]},
            "redirect_uris",
            "invalid_redirect_uri",
        ),
        ({"redirect_uris": ["/relative/callback"]}, "redirect_uris", "invalid_redirect_uri"),
        (
            {"token_endpoint_auth_method": "private_key_jwt_typo"},
            "token_endpoint_auth_method",
            "invalid_request",
        ),
        ({"client_secret": "chosen-by-me"}, "client_secret", "invalid_request"),
        ({"software_backdoor": True}, "software_backdoor", "invalid_request"),
    ],
    ids=[
        "implicit-grant",
        "fragment-redirect",
        "relative-redirect",
        "auth-method",
        "secret",
        "extra",
    ],
)
def test_invalid_client_metadata_is_400_naming_the_field(
    server: AuthgateServer, change: dict[str, Any], field: str, code: str
) -> None:
    with server.admin_client() as admin:
        response = admin.post("/admin/clients", json=confidential_client_metadata(**change))
    body = assert_error(response, 400, code)
    assert field in body["message"]


def test_patch_client_renames_it_and_keeps_the_rest(server: AuthgateServer) -> None:
    metadata = confidential_client_metadata()
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=metadata).json()
        patched = admin.patch(f"/admin/clients/{created['client_id']}", json={"client_name": "new"})
        fetched = admin.get(f"/admin/clients/{created['client_id']}").json()
    assert patched.status_code == 200
    assert patched.json()["client_name"] == "new"
    assert "client_secret" not in patched.json()
    assert fetched["client_name"] == "new"
    assert fetched["redirect_uris"] == metadata["redirect_uris"]
    assert fetched["grant_types"] == metadata["grant_types"]


def test_patch_client_with_invalid_field_is_400(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=confidential_client_metadata()).json()
        response = admin.patch(
            f"/admin/clients/{created['client_id']}", json={"grant_types": ["implicit"]}
        )
        fetched = admin.get(f"/admin/clients/{created['client_id']}").json()
    assert "grant_types" in assert_error(response, 400, "invalid_request")["message"]
    assert fetched["grant_types"] == ["password", "refresh_token"]


def test_rotating_a_client_secret_switches_the_secret_hash(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        created = admin.post("/admin/clients", json=confidential_client_metadata()).json()
        client_id, old_secret = created["client_id"], created["client_secret"]
        rotated = admin.post(f"/admin/clients/{client_id}/secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert len(new_secret) >= 43 and new_secret != old_secret
    username = user["username"]
    with server.public_client(local_address="127.0.0.12") as client:
        old = login(
            client,
            username,
            PASSWORD,
            client_id=client_id,
            secret_hash=secret_hash(old_secret, username, client_id),
        )
        new = login(
            client,
            username,
            PASSWORD,
            client_id=client_id,
            secret_hash=secret_hash(new_secret, username, client_id),
        )
    assert_error(old, 401, "invalid_client")
    assert new.status_code == 200, new.text
    assert jwt_payload(new.json()["access_token"])["client_id"] == client_id


def test_confidential_client_login_needs_the_secret_hash(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        created = admin.post("/admin/clients", json=confidential_client_metadata()).json()
    with server.public_client(local_address="127.0.0.13") as client:
        missing = login(client, user["username"], PASSWORD, client_id=created["client_id"])
        right = login(
            client,
            user["username"],
            PASSWORD,
            client_id=created["client_id"],
            secret_hash=secret_hash(
                created["client_secret"], user["username"], created["client_id"]
            ),
        )
    assert_error(missing, 401, "invalid_client")
    assert right.status_code == 200


def test_deleted_client_is_gone(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        created = admin.post("/admin/clients", json=confidential_client_metadata()).json()
        client_id = created["client_id"]
        deleted = admin.delete(f"/admin/clients/{client_id}")
        fetched = admin.get(f"/admin/clients/{client_id}")
        listed = [c["client_id"] for c in all_items(admin, "/admin/clients")]
    assert deleted.status_code == 204
    assert_error(fetched, 404, "not_found")
    assert client_id not in listed
    with server.public_client(local_address="127.0.0.14") as client:
        response = login(
            client,
            user["username"],
            PASSWORD,
            client_id=client_id,
            secret_hash=secret_hash(created["client_secret"], user["username"], client_id),
        )
    assert_error(response, 401, "invalid_client")


def test_deleting_a_client_ends_its_refresh_tokens(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        user = create_user(admin)
        created = admin.post("/admin/clients", json=confidential_client_metadata()).json()
        client_id, username = created["client_id"], user["username"]
        signed_in = login(
            client,
            username,
            PASSWORD,
            client_id=client_id,
            secret_hash=secret_hash(created["client_secret"], username, client_id),
        )
        assert signed_in.status_code == 200, signed_in.text
        assert admin.delete(f"/admin/clients/{client_id}").status_code == 204
        refreshed = client.post(
            "/v1/token/refresh", json={"refresh_token": signed_in.json()["refresh_token"]}
        )
    assert_error(refreshed, 401, "invalid_token")


def test_rotating_a_public_clients_secret_is_400(server: AuthgateServer) -> None:
    metadata = confidential_client_metadata(token_endpoint_auth_method="none")
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=metadata).json()
        response = admin.post(f"/admin/clients/{created['client_id']}/secret")
    assert_error(response, 400, "invalid_request")
    assert response.json().get("client_secret") is None


def test_answers_carrying_a_client_secret_are_not_cached(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        created = admin.post("/admin/clients", json=confidential_client_metadata())
        rotated = admin.post(f"/admin/clients/{created.json()['client_id']}/secret")
    for response in (created, rotated):
        assert "client_secret" in response.json()
        assert "no-store" in response.headers.get("cache-control", "")


def test_unknown_client_is_404_not_found(server: AuthgateServer) -> None:
    missing = secrets.token_hex(13)
    with server.admin_client() as admin:
        assert_error(admin.get(f"/admin/clients/{missing}"), 404, "not_found")
        assert_error(admin.patch(f"/admin/clients/{missing}", json={"client_name": "x"}), 404)
        assert_error(admin.post(f"/admin/clients/{missing}/secret"), 404, "not_found")
        assert_error(admin.delete(f"/admin/clients/{missing}"), 404, "not_found")


# -- signing keys ----------------------------------------------------------------------


def test_key_list_has_exactly_one_active_key(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        response = admin.get("/admin/keys")
    assert response.status_code == 200
    items = response.json()["items"]
    assert items
    for key in items:
        assert isinstance(key["kid"], str) and key["kid"]
        assert key["alg"] == "RS256"
        assert isinstance(key["active"], bool)
    assert sum(key["active"] for key in items) == 1


def test_key_rotation_adds_a_key_that_becomes_the_only_active_one(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        before = admin.get("/admin/keys").json()["items"]
        rotated = admin.post("/admin/keys/rotate")
        after = admin.get("/admin/keys").json()["items"]
    assert rotated.status_code == 201
    new_kid = rotated.json()["kid"]
    assert new_kid not in {k["kid"] for k in before}
    assert len(after) == len(before) + 1
    assert [k["kid"] for k in after if k["active"]] == [new_kid]
    previous = next(k["kid"] for k in before if k["active"])
    assert previous in {k["kid"] for k in after if not k["active"]}


def test_tokens_signed_before_rotation_still_work(server: AuthgateServer) -> None:
    with server.admin_client() as admin, server.public_client() as client:
        user = create_user(admin)
        tokens = tokens_of(client, user["username"])
        assert admin.post("/admin/keys/rotate").status_code == 201
        me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
        fresh = tokens_of(client, user["username"])
        active = [k["kid"] for k in admin.get("/admin/keys").json()["items"] if k["active"]]
    assert me.status_code == 200
    assert jwt_kid(fresh["access_token"]) == active[0]


# -- audit -----------------------------------------------------------------------------


def test_admin_actions_appear_in_the_audit_log(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        events = all_items(admin, "/admin/audit", event="admin_user_created", limit=500)
    assert all(e["event"] == "admin_user_created" for e in events)
    assert [e["sub"] for e in events].count(user["sub"]) == 1


def test_audit_log_filters_by_sub_and_event(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        other = create_user(admin)
        assert admin.post(f"/admin/users/{user['sub']}/disable").status_code == 200
        assert admin.post(f"/admin/users/{other['sub']}/disable").status_code == 200
        by_sub = all_items(admin, "/admin/audit", sub=user["sub"])
        by_both = all_items(admin, "/admin/audit", sub=user["sub"], event="admin_user_disabled")
    assert {e["sub"] for e in by_sub} == {user["sub"]}
    assert {"admin_user_created", "admin_user_disabled"} <= {e["event"] for e in by_sub}
    assert [(e["sub"], e["event"]) for e in by_both] == [(user["sub"], "admin_user_disabled")]


def test_audit_log_pages_newest_first(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        user = create_user(admin)
        sub = user["sub"]
        assert admin.patch(f"/admin/users/{sub}", json={"given_name": "Ada"}).status_code == 200
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200
        assert admin.post(f"/admin/users/{sub}/enable").status_code == 200
        assert admin.post(f"/admin/users/{sub}/sign-out").status_code == 200
        sizes: list[int] = []
        events: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(sizes) < 10:
            params: dict[str, Any] = {"sub": sub, "limit": 2}
            if cursor is not None:
                params["cursor"] = cursor
            body = admin.get("/admin/audit", params=params).json()
            sizes.append(len(body["items"]))
            events.extend(body["items"])
            cursor = body["next"]
            if cursor is None:
                break
    assert sizes == [2, 2, 1]
    assert [e["event"] for e in events] == [
        "admin_sign_out",
        "admin_user_enabled",
        "admin_user_disabled",
        "admin_user_updated",
        "admin_user_created",
    ]
    assert len({e["id"] for e in events}) == len(events)
    times = [e["at"] for e in events]
    assert times == sorted(times, reverse=True)


def test_audit_entries_record_time_ip_and_user_agent(server: AuthgateServer) -> None:
    agent = f"ops-console/{secrets.token_hex(3)}"
    with server.admin_client() as admin:
        admin.headers["User-Agent"] = agent
        user = create_user(admin)
        events = all_items(admin, "/admin/audit", sub=user["sub"], event="admin_user_created")
    assert len(events) == 1
    entry = events[0]
    assert isinstance(entry["at"], int | float) and entry["at"] > 0
    assert entry["ip"] == "127.0.0.1"
    assert entry["user_agent"] == agent


def test_client_administration_is_audited(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        client_id = admin.post("/admin/clients", json=confidential_client_metadata()).json()[
            "client_id"
        ]
        assert (
            admin.patch(f"/admin/clients/{client_id}", json={"client_name": "x"}).status_code == 200
        )
        assert admin.post(f"/admin/clients/{client_id}/secret").status_code == 200
        assert admin.delete(f"/admin/clients/{client_id}").status_code == 204
        recent = admin.get("/admin/audit", params={"limit": 50}).json()["items"]
    about_client = [e for e in recent if e["client_id"] == client_id]
    assert len(about_client) == 4, [e["event"] for e in recent[:10]]
    assert len({e["event"] for e in about_client}) == 4


def test_key_rotation_is_audited(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        before = admin.get("/admin/audit", params={"limit": 1}).json()["items"]
        assert admin.post("/admin/keys/rotate").status_code == 201
        after = admin.get("/admin/audit", params={"limit": 1}).json()["items"]
    newest_before = before[0]["id"] if before else None
    assert after and after[0]["id"] != newest_before, "the rotation left no audit entry"


def test_audit_log_with_invalid_limit_is_400(server: AuthgateServer) -> None:
    with server.admin_client() as admin:
        assert_error(admin.get("/admin/audit", params={"limit": 0}), 400, "invalid_request")
        assert_error(admin.get("/admin/audit", params={"limit": 1000}), 400, "invalid_request")
