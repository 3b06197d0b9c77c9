"""`POST /authz/allowed` through a real server: who may ask, what is asked, what is answered.

Policies are written through the admin API, as an operator would; the callers are real
clients holding real tokens. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    PASSWORD,
    RESOURCE_SCOPES,
    client_token,
    code_tokens,
    machine,
    person,
    post_form,
    web_app,
)

PATH = "/authz/allowed"
HYDRA_SUBJECT = "3094A219-52B1-4900-91F7-514C4392D8C3"
HYDRA_POLICY = {
    "description": "Api readonly policy.",
    "subjects": [HYDRA_SUBJECT],
    "actions": ["read"],
    "effect": "allow",
    "resources": ["resources:orders:<.*>"],
}


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"scopes": RESOURCE_SCOPES})


@pytest.fixture(scope="module")
def admin(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.admin_client() as client:
        yield client


def add_policy(admin: httpx.Client, **document: Any) -> str:
    """A policy written through the admin API; its id."""
    body = {"id": f"p-{secrets.token_hex(4)}", "description": "test", **document}
    created = admin.post("/admin/policies", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def hydra_policy(admin: httpx.Client) -> str:
    created = admin.post("/admin/policies", json=HYDRA_POLICY)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def caller_token(server: AuthgateServer) -> str:
    """A service allowed to ask: a client granted authgate:decide, with its token."""
    service = machine(server, scope="authgate:decide orders:read")
    return str(client_token(server, service, scope="authgate:decide")["access_token"])


@pytest.fixture(scope="module")
def public(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.public_client() as client:
        yield client


def ask(public: httpx.Client, bearer: str | None, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return public.post(PATH, json=body, headers=headers)


def decision(public: httpx.Client, bearer: str, **body: Any) -> dict[str, Any]:
    answer = ask(public, bearer, **body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found: dict[str, Any] = answer.json()
    assert set(found) == {"allowed", "subject", "reason"}
    return found


def login_token(server: AuthgateServer, email: str) -> str:
    with server.public_client() as http:
        answer = http.post("/v1/login", json={"username": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def join_group(admin: httpx.Client, group: str, sub: str) -> None:
    admin.post("/admin/groups", json={"name": group})
    assert admin.put(f"/admin/groups/{group}/members/{sub}").status_code == 204


# -- with subject -----------------------------------------------------------------------


def test_the_hydra_document_allows_its_subject(
    public: httpx.Client, caller_token: str, hydra_policy: str
) -> None:
    found = decision(
        public,
        caller_token,
        subject=HYDRA_SUBJECT,
        action="read",
        resource="resources:orders:1234",
    )
    assert found == {"allowed": True, "subject": HYDRA_SUBJECT, "reason": hydra_policy}


@pytest.mark.parametrize(
    ("subject", "action", "resource"),
    [
        ("another-subject", "read", "resources:orders:1234"),
        (HYDRA_SUBJECT, "write", "resources:orders:1234"),
        (HYDRA_SUBJECT, "read", "resources:invoices:1234"),
    ],
)
def test_what_no_policy_allows_is_denied_with_no_match(
    public: httpx.Client,
    caller_token: str,
    hydra_policy: str,
    subject: str,
    action: str,
    resource: str,
) -> None:
    found = decision(public, caller_token, subject=subject, action=action, resource=resource)
    assert found == {"allowed": False, "subject": subject, "reason": "no_match"}


def test_a_deny_policy_overrides_and_is_named(
    public: httpx.Client, caller_token: str, admin: httpx.Client
) -> None:
    subject = f"svc-{secrets.token_hex(4)}"
    add_policy(admin, subjects=[subject], actions=["<.*>"], resources=["<.*>"], effect="allow")
    deny = add_policy(
        admin, subjects=[subject], actions=["delete"], resources=["<.*>"], effect="deny"
    )
    found = decision(public, caller_token, subject=subject, action="delete", resource="x")
    assert found == {"allowed": False, "subject": subject, "reason": deny}
    assert decision(public, caller_token, subject=subject, action="read", resource="x")["allowed"]


def test_a_users_current_groups_count(
    server: AuthgateServer, public: httpx.Client, caller_token: str, admin: httpx.Client
) -> None:
    group = f"support-{secrets.token_hex(3)}"
    policy = add_policy(
        admin,
        subjects=[f"group:{group}"],
        actions=["read"],
        resources=["tickets:<.*>"],
        effect="allow",
    )
    _, sub = person(server)
    question = {"subject": sub, "action": "read", "resource": "tickets:7"}
    assert decision(public, caller_token, **question)["reason"] == "no_match"
    join_group(admin, group, sub)
    assert decision(public, caller_token, **question) == {
        "allowed": True,
        "subject": sub,
        "reason": policy,
    }


def test_the_context_reaches_the_conditions(
    public: httpx.Client, caller_token: str, admin: httpx.Client
) -> None:
    subject = f"svc-{secrets.token_hex(4)}"
    policy = add_policy(
        admin,
        subjects=[subject],
        actions=["read"],
        resources=["reports"],
        effect="allow",
        conditions={"tenant": {"type": "StringEqualCondition", "options": {"equals": "acme"}}},
    )
    question = {"subject": subject, "action": "read", "resource": "reports"}
    assert decision(public, caller_token, **question, context={"tenant": "acme"})["reason"] == (
        policy
    )
    assert not decision(public, caller_token, **question, context={"tenant": "other"})["allowed"]
    assert not decision(public, caller_token, **question)["allowed"]


# -- with token -------------------------------------------------------------------------


def test_a_client_token_speaks_for_its_client(
    server: AuthgateServer, public: httpx.Client, caller_token: str, admin: httpx.Client
) -> None:
    worker = machine(server)
    token = client_token(server, worker, scope="orders:read")["access_token"]
    policy = add_policy(
        admin,
        subjects=[worker["client_id"]],
        actions=["read"],
        resources=["orders:<[0-9]+>"],
        effect="allow",
    )
    found = decision(public, caller_token, token=token, action="read", resource="orders:42")
    assert found == {"allowed": True, "subject": worker["client_id"], "reason": policy}


def test_a_user_token_brings_its_groups(
    server: AuthgateServer, public: httpx.Client, caller_token: str, admin: httpx.Client
) -> None:
    group = f"ops-{secrets.token_hex(3)}"
    email, sub = person(server)
    join_group(admin, group, sub)
    policy = add_policy(
        admin, subjects=[f"group:{group}"], actions=["restart"], resources=["<.*>"], effect="allow"
    )
    token = login_token(server, email)
    found = decision(public, caller_token, token=token, action="restart", resource="svc:a")
    assert found == {"allowed": True, "subject": sub, "reason": policy}


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c"])
def test_a_bad_token_is_a_denial_not_an_error(
    public: httpx.Client, caller_token: str, token: str
) -> None:
    found = decision(public, caller_token, token=token, action="read", resource="x")
    assert found == {"allowed": False, "subject": None, "reason": "invalid_token"}


def test_a_revoked_token_is_a_denial(
    server: AuthgateServer, public: httpx.Client, caller_token: str, admin: httpx.Client
) -> None:
    worker = machine(server)
    token = client_token(server, worker, scope="orders:read")["access_token"]
    add_policy(
        admin, subjects=[worker["client_id"]], actions=["read"], resources=["r"], effect="allow"
    )
    assert decision(public, caller_token, token=token, action="read", resource="r")["allowed"]
    assert post_form(server, "/oauth2/revoke", worker, token=token).status_code == 200
    found = decision(public, caller_token, token=token, action="read", resource="r")
    assert found["reason"] == "invalid_token"


# -- who may ask ------------------------------------------------------------------------


def test_no_credentials_is_a_bare_401(public: httpx.Client) -> None:
    answer = ask(public, None, subject="s", action="read", resource="r")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="authgate"'


def test_a_bad_caller_token_is_401_invalid_token(public: httpx.Client) -> None:
    answer = ask(public, "a.b.c", subject="s", action="read", resource="r")
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_a_token_without_the_decide_scope_is_403(
    server: AuthgateServer, public: httpx.Client
) -> None:
    worker = machine(server)
    token = client_token(server, worker, scope="orders:read")["access_token"]
    answer = ask(public, token, subject="s", action="read", resource="r")
    assert answer.status_code == 403
    assert answer.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]


def test_a_users_token_may_not_ask_even_with_the_scope(
    server: AuthgateServer, public: httpx.Client
) -> None:
    email, _ = person(server)
    app = web_app(server, scope="openid authgate:decide")
    tokens = code_tokens(server, app, email, scope="openid authgate:decide")
    assert "authgate:decide" in tokens["scope"].split()
    answer = ask(public, tokens["access_token"], subject="s", action="read", resource="r")
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "insufficient_scope"
    assert "Only a client's own token" in answer.json()["message"]


def test_a_revoked_caller_token_is_401(server: AuthgateServer, public: httpx.Client) -> None:
    service = machine(server, scope="authgate:decide")
    token = client_token(server, service, scope="authgate:decide")["access_token"]
    assert ask(public, token, subject="s", action="read", resource="r").status_code == 200
    assert post_form(server, "/oauth2/revoke", service, token=token).status_code == 200
    assert ask(public, token, subject="s", action="read", resource="r").status_code == 401


def test_the_admin_token_may_ask(
    server: AuthgateServer, public: httpx.Client, hydra_policy: str
) -> None:
    found = decision(
        public,
        server.admin_token,
        subject=HYDRA_SUBJECT,
        action="read",
        resource="resources:orders:1",
    )
    assert found["allowed"] is True


def test_the_answer_needs_authentication_before_the_body_is_read(public: httpx.Client) -> None:
    assert public.post(PATH, content=b"not json").status_code == 401


# -- malformed questions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"action": "read", "resource": "r"},
        {"subject": "s", "token": "t", "action": "read", "resource": "r"},
        {"subject": "s", "resource": "r"},
        {"subject": "s", "action": "read"},
        {"subject": "", "action": "read", "resource": "r"},
        {"subject": 7, "action": "read", "resource": "r"},
        {"subject": "s", "action": "read", "resource": "r", "context": ["x"]},
        {"subject": "s", "action": "read", "resource": "r", "subjects": ["x"]},
    ],
)
def test_a_malformed_question_is_400(
    public: httpx.Client, caller_token: str, body: dict[str, Any]
) -> None:
    answer = ask(public, caller_token, **body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"


def test_a_body_that_is_not_json_is_400(public: httpx.Client, caller_token: str) -> None:
    answer = public.post(
        PATH,
        content=b"subject=s",
        headers={"Authorization": f"Bearer {caller_token}", "Content-Type": "text/plain"},
    )
    assert answer.status_code == 400


# -- control characters (issue 9 item 6) --------------------------------------------------

CONTROL = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85"]


@pytest.mark.parametrize("control", CONTROL)
def test_a_control_character_in_the_resource_does_not_dodge_a_deny(
    public: httpx.Client, admin: httpx.Client, caller_token: str, control: str
) -> None:
    subject = f"reader-{secrets.token_hex(4)}"
    add_policy(
        admin, subjects=[subject], actions=["read"], resources=["files:<.*>"], effect="allow"
    )
    add_policy(
        admin, subjects=[subject], actions=["read"], resources=["files:secret<.*>"], effect="deny"
    )
    answer = ask(
        public, caller_token, subject=subject, action="read", resource=f"files:secret{control}"
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"  # NUL: refused by the JSON parser


@pytest.mark.parametrize("field", ["subject", "action", "resource"])
def test_a_control_character_in_any_name_is_400_naming_the_field(
    public: httpx.Client, caller_token: str, field: str
) -> None:
    body = {"subject": "alice", "action": "read", "resource": "files:1"}
    body[field] += "\n"
    answer = ask(public, caller_token, **body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


@pytest.mark.parametrize("context", [{"ip": "10.0.0.1\n"}, {"k\n": "v"}, {"l": ["a", "\x1b"]}])
def test_a_control_character_in_the_context_is_400(
    public: httpx.Client, caller_token: str, context: dict[str, Any]
) -> None:
    answer = ask(
        public, caller_token, subject="alice", action="read", resource="files:1", context=context
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == "context"


@pytest.mark.parametrize("field", ["subjects", "actions", "resources"])
def test_a_policy_with_a_control_character_in_a_pattern_is_refused_at_write_time(
    admin: httpx.Client, field: str
) -> None:
    document = {"subjects": ["a"], "actions": ["b"], "resources": ["c"], "effect": "deny"}
    document[field] = ["x\n<.*>"]
    answer = admin.post("/admin/policies", json=document)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_policy"
    assert any(field in problem for problem in answer.json()["problems"])
