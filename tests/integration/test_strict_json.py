"""Every JSON body of both listeners is read strictly (issue 9, item 4).

A lone surrogate, `NaN`, `Infinity` or `1e999` once stored made `/v1/me` and
`GET /admin/users` answer 500 from then on; a name given twice was read as its last value,
where a proxy in front may read the first. Each is now 400 `invalid_request` on every
endpoint that reads JSON, before anything is stored.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"

# Bodies each endpoint must refuse; `{field}` is a field the endpoint reads.
BAD_BODIES = {
    "lone_surrogate": '{"{field}": "\\ud800"}',
    "lone_surrogate_in_name": '{"\\udfff": "x", "{field}": "x"}',
    "nan": '{"{field}": NaN}',
    "infinity": '{"{field}": -Infinity}',
    "overflowing_number": '{"{field}": 1e999}',
    "name_twice": '{"{field}": "a", "{field}": "b"}',
    "nul": '{"{field}": "a\\u0000b"}',
    "too_deep": '{"{field}": ' + "[" * 100 + "]" * 100 + "}",
}
NUL_FORM = "{field}=a%00b"
PUBLIC_ENDPOINTS = [
    ("POST", "/v1/signup", "email"),
    ("POST", "/v1/signup/confirm", "username"),
    ("POST", "/v1/signup/resend", "username"),
    ("POST", "/v1/login", "username"),
    ("POST", "/v1/token/refresh", "refresh_token"),
    ("POST", "/v1/logout", "refresh_token"),
    ("POST", "/v1/password/forgot", "username"),
    ("POST", "/v1/password/reset", "username"),
]
USER_ENDPOINTS = [
    ("PATCH", "/v1/me", "name"),
    ("DELETE", "/v1/me", "password"),
    ("POST", "/v1/me/password", "current_password"),
    ("POST", "/v1/me/verify-email", "code"),
]
ADMIN_ENDPOINTS = [
    ("POST", "/admin/users", "email"),
    ("PATCH", "/admin/users/nobody", "name"),
    ("PUT", "/admin/users/nobody/password", "password"),
    ("POST", "/admin/groups", "name"),
    ("POST", "/admin/clients", "client_name"),
    ("PATCH", "/admin/clients/nobody", "client_name"),
    ("POST", "/admin/policies", "id"),
    ("PUT", "/admin/policies/p1", "id"),
]


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(user_pool={"custom_attributes": {"score": {"type": "number"}}})


@pytest.fixture(scope="module")
def admin(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.admin_client() as client:
        yield client


@pytest.fixture(scope="module")
def user_token(server: AuthgateServer, admin: httpx.Client) -> str:
    address = unique_email("strict")
    body = {"email": address, "password": PASSWORD, "email_verified": True}
    assert admin.post("/admin/users", json=body).status_code == 201
    with server.public_client() as public:
        signed_in = public.post("/v1/login", json={"username": address, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    return str(signed_in.json()["access_token"])


def send(base: str, method: str, path: str, body: str, token: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, base + path, content=body.encode(), headers=headers, timeout=30)


def assert_invalid_request(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("kind", BAD_BODIES)
@pytest.mark.parametrize(("method", "path", "field"), PUBLIC_ENDPOINTS)
def test_the_public_api_refuses_what_strict_json_does_not_allow(
    server: AuthgateServer, method: str, path: str, field: str, kind: str
) -> None:
    body = BAD_BODIES[kind].replace("{field}", field)
    assert_invalid_request(send(server.public, method, path, body))


@pytest.mark.parametrize(("method", "path", "field"), PUBLIC_ENDPOINTS)
def test_a_form_with_a_nul_character_is_refused(
    server: AuthgateServer, method: str, path: str, field: str
) -> None:
    answer = httpx.request(
        method,
        server.public + path,
        content=NUL_FORM.replace("{field}", field),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert_invalid_request(answer)


@pytest.mark.parametrize("kind", BAD_BODIES)
@pytest.mark.parametrize(("method", "path", "field"), USER_ENDPOINTS)
def test_the_signed_in_user_api_refuses_what_strict_json_does_not_allow(
    server: AuthgateServer, user_token: str, method: str, path: str, field: str, kind: str
) -> None:
    body = BAD_BODIES[kind].replace("{field}", field)
    assert_invalid_request(send(server.public, method, path, body, user_token))


@pytest.mark.parametrize("kind", BAD_BODIES)
def test_the_decision_api_refuses_what_strict_json_does_not_allow(
    server: AuthgateServer, kind: str
) -> None:
    body = BAD_BODIES[kind].replace("{field}", "resource")
    assert_invalid_request(send(server.public, "POST", "/authz/allowed", body, server.admin_token))


@pytest.mark.parametrize("kind", BAD_BODIES)
@pytest.mark.parametrize(("method", "path", "field"), ADMIN_ENDPOINTS)
def test_the_admin_api_refuses_what_strict_json_does_not_allow(
    server: AuthgateServer, method: str, path: str, field: str, kind: str
) -> None:
    body = BAD_BODIES[kind].replace("{field}", field)
    assert_invalid_request(send(server.admin, method, path, body, server.admin_token))


def test_a_body_over_the_bound_is_refused_by_the_admin_api_before_it_is_parsed(
    server: AuthgateServer,
) -> None:
    body = '{"name": "' + "x" * 70_000 + '"}'
    answer = send(server.admin, "POST", "/admin/groups", body, server.admin_token)
    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"


@pytest.mark.parametrize(
    "value", ['"\\ud800"', "NaN", "Infinity", "1e999", '"a\\u0000b"', "9007199254740993"]
)
def test_an_attribute_that_cannot_be_written_back_is_never_stored(
    server: AuthgateServer, admin: httpx.Client, user_token: str, value: str
) -> None:
    name = "name" if value.startswith('"') else "custom:score"
    body = f'{{"attributes": {{"{name}": {value}}}}}'
    answer = send(server.public, "PATCH", "/v1/me", body, user_token)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in ("invalid_request", "invalid_attribute")
    me = httpx.get(
        server.public + "/v1/me", headers={"Authorization": f"Bearer {user_token}"}, timeout=30
    )
    assert me.status_code == 200, me.text
    assert admin.get("/admin/users").status_code == 200


@pytest.mark.parametrize("value", ['"\\ud800"', "NaN", "1e999"])
def test_the_admin_api_never_stores_an_attribute_that_cannot_be_written_back(
    admin: httpx.Client, value: str
) -> None:
    name = "name" if value.startswith('"') else "custom:score"
    body = (
        f'{{"email": "{unique_email("strict")}", "password": "{PASSWORD}", '
        f'"attributes": {{"{name}": {value}}}}}'
    )
    answer = admin.post("/admin/users", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert admin.get("/admin/users").status_code == 200


def test_the_first_of_two_names_is_not_silently_dropped(
    server: AuthgateServer, user_token: str
) -> None:
    body = '{"attributes": {"name": "Ada"}, "attributes": {"name": "Eve"}}'
    assert_invalid_request(send(server.public, "PATCH", "/v1/me", body, user_token))
    me = httpx.get(
        server.public + "/v1/me", headers={"Authorization": f"Bearer {user_token}"}, timeout=30
    )
    assert me.json()["attributes"].get("name") not in ("Ada", "Eve")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/admin/groups", {"name": "nul-desc", "description": "a\u0000b"}),
        ("/admin/clients", {"client_name": "a\u0000b"}),
        (
            "/admin/policies",
            {
                "subjects": ["a"],
                "actions": ["b"],
                "resources": ["c"],
                "effect": "deny",
                "description": "a\u0000b",
            },
        ),
    ],
)
def test_a_nul_character_is_refused_before_postgresql_would_fail_on_it(
    admin: httpx.Client, path: str, body: dict[str, object]
) -> None:
    assert_invalid_request(admin.post(path, json=body))
    assert admin.get(path).status_code == 200
