"""Policy documents through the admin API, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"
# From a Hydra set-up (issue 5): it must import and work unchanged.
HYDRA = {
    "description": "Api readonly policy.",
    "subjects": ["3094A219-52B1-4900-91F7-514C4392D8C3"],
    "actions": ["read"],
    "effect": "allow",
    "resources": ["resources:orders:<.*>"],
}


@pytest.fixture
def admin(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.admin_client() as client:
        yield client


def tag() -> str:
    return secrets.token_hex(4)


def policy(policy_id: str | None = None, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "subjects": [f"users:{tag()}"],
        "actions": ["read"],
        "resources": ["resources:orders:<.*>"],
        "effect": "allow",
        **fields,
    }
    if policy_id is not None:
        document["id"] = policy_id
    return document


def test_the_hydra_document_imports_unchanged_and_reads_back_identical(
    admin: httpx.Client,
) -> None:
    created = admin.post("/admin/policies", json=HYDRA)
    assert created.status_code == 201, created.text
    document = created.json()
    assert {key: document[key] for key in HYDRA} == HYDRA
    assert document["id"]
    fetched = admin.get(f"/admin/policies/{document['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == document


def test_a_document_put_back_as_read_is_unchanged(admin: httpx.Client) -> None:
    document = admin.post("/admin/policies", json=HYDRA).json()
    replaced = admin.put(f"/admin/policies/{document['id']}", json=document)
    assert replaced.status_code == 200
    assert admin.get(f"/admin/policies/{document['id']}").json() == document


def test_a_policy_keeps_the_id_it_is_given(admin: httpx.Client) -> None:
    policy_id = f"orders-reader-{tag()}"
    created = admin.post("/admin/policies", json=policy(policy_id))
    assert created.status_code == 201
    assert created.json()["id"] == policy_id


def test_creating_a_taken_id_is_409_and_keeps_the_first(admin: httpx.Client) -> None:
    policy_id = f"taken-{tag()}"
    first = admin.post("/admin/policies", json=policy(policy_id, description="first")).json()
    again = admin.post("/admin/policies", json=policy(policy_id, description="second"))
    assert again.status_code == 409
    assert again.json()["error"] == "policy_exists"
    assert admin.get(f"/admin/policies/{policy_id}").json() == first


def test_an_unknown_condition_type_is_400_and_nothing_is_written(admin: httpx.Client) -> None:
    policy_id = f"unknown-condition-{tag()}"
    conditions = {"remoteIP": {"type": "NoSuchCondition", "options": {}}}
    answer = admin.post("/admin/policies", json=policy(policy_id, conditions=conditions))
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_policy"
    assert any("conditions.remoteIP" in problem for problem in body["problems"])
    assert admin.get(f"/admin/policies/{policy_id}").status_code == 404


def test_every_problem_of_a_document_is_reported(admin: httpx.Client) -> None:
    document = policy(actions=[], resources=["resources:<(unclosed>"])
    answer = admin.post("/admin/policies", json=document)
    assert answer.status_code == 400
    problems = answer.json()["problems"]
    assert any(p.startswith("actions") for p in problems)
    assert any(p.startswith("resources[0]") for p in problems)


def test_put_creates_a_policy_then_replaces_it(admin: httpx.Client) -> None:
    policy_id = f"put-{tag()}"
    created = admin.put(f"/admin/policies/{policy_id}", json=policy(description="one"))
    assert created.status_code == 201
    assert created.json()["id"] == policy_id
    replaced = admin.put(f"/admin/policies/{policy_id}", json=policy(description="two"))
    assert replaced.status_code == 200
    assert admin.get(f"/admin/policies/{policy_id}").json()["description"] == "two"


def test_put_with_another_id_in_the_body_is_400_and_nothing_is_written(
    admin: httpx.Client,
) -> None:
    policy_id = f"path-{tag()}"
    answer = admin.put(f"/admin/policies/{policy_id}", json=policy(f"body-{tag()}"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_policy"
    assert admin.get(f"/admin/policies/{policy_id}").status_code == 404


def test_a_deleted_policy_is_gone(admin: httpx.Client) -> None:
    policy_id = f"delete-{tag()}"
    admin.post("/admin/policies", json=policy(policy_id))
    assert admin.delete(f"/admin/policies/{policy_id}").status_code == 204
    assert admin.get(f"/admin/policies/{policy_id}").status_code == 404
    again = admin.delete(f"/admin/policies/{policy_id}")
    assert again.status_code == 404
    assert again.json()["error"] == "policy_not_found"


def test_an_id_with_a_slash_is_reachable_by_its_path(admin: httpx.Client) -> None:
    policy_id = f"team/{tag()}"
    admin.post("/admin/policies", json=policy(policy_id))
    assert admin.get(f"/admin/policies/{policy_id}").json()["id"] == policy_id
    assert admin.delete(f"/admin/policies/{policy_id}").status_code == 204


def test_listing_by_subject_matches_patterns_not_strings(admin: httpx.Client) -> None:
    prefix = f"tenant-{tag()}"
    pattern = admin.post("/admin/policies", json=policy(subjects=[f"{prefix}:<[0-9]+>"])).json()
    literal = admin.post("/admin/policies", json=policy(subjects=[f"{prefix}:7"])).json()

    def ids(subject: str) -> set[str]:
        answer = admin.get("/admin/policies", params={"subject": subject})
        assert answer.status_code == 200
        return {d["id"] for d in answer.json()["items"]}

    assert ids(f"{prefix}:42") == {pattern["id"]}
    assert ids(f"{prefix}:7") == {pattern["id"], literal["id"]}
    assert ids(f"{prefix}:x") == set()


def test_listing_without_a_subject_returns_every_policy(admin: httpx.Client) -> None:
    made = {admin.post("/admin/policies", json=policy()).json()["id"] for _ in range(3)}
    listed = {d["id"] for d in admin.get("/admin/policies").json()["items"]}
    assert made <= listed


def test_a_long_list_comes_in_pages_by_id(admin: httpx.Client) -> None:
    subject = f"paged:{tag()}"
    made = sorted(
        admin.post("/admin/policies", json=policy(subjects=[subject])).json()["id"]
        for _ in range(3)
    )
    pages: list[list[str]] = []
    cursor = None
    for _ in range(len(made) + 1):
        params = {"subject": subject, "limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = admin.get("/admin/policies", params=params).json()
        pages.append([d["id"] for d in answer["items"]])
        cursor = answer["next"]
        if cursor is None:
            break
    assert pages == [made[:2], made[2:]]


def test_the_effective_policies_of_a_user_come_through_their_groups(
    admin: httpx.Client,
) -> None:
    user = admin.post("/admin/users", json={"email": unique_email("roles"), "password": PASSWORD})
    sub = user.json()["sub"]
    group, other = f"support-{tag()}", f"billing-{tag()}"
    for name in (group, other):
        assert admin.post("/admin/groups", json={"name": name}).status_code == 201
    assert admin.put(f"/admin/groups/{group}/members/{sub}").status_code == 204
    direct = admin.post("/admin/policies", json=policy(subjects=[sub])).json()["id"]
    by_group = admin.post("/admin/policies", json=policy(subjects=[f"group:{group}"])).json()
    admin.post("/admin/policies", json=policy(subjects=[f"group:{other}"]))
    answer = admin.get(f"/admin/users/{sub}/policies")
    assert answer.status_code == 200
    assert {d["id"] for d in answer.json()["items"]} == {direct, by_group["id"]}


def test_the_effective_policies_of_an_unknown_user_are_404(admin: httpx.Client) -> None:
    assert admin.get(f"/admin/users/{tag()}/policies").status_code == 404


def audit_events(admin: httpx.Client, event: str) -> list[dict[str, Any]]:
    answer = admin.get("/admin/audit", params={"event": event, "limit": 500})
    assert answer.status_code == 200
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


@pytest.mark.parametrize("event", ["created", "replaced", "deleted"])
def test_every_policy_change_is_audited_with_the_policy_id(admin: httpx.Client, event: str) -> None:
    policy_id = f"audited-{tag()}"
    admin.post("/admin/policies", json=policy(policy_id))
    admin.put(f"/admin/policies/{policy_id}", json=policy(description="changed"))
    admin.delete(f"/admin/policies/{policy_id}")
    found = audit_events(admin, f"admin_policy_{event}")
    assert [e["detail"]["policy"] for e in found].count(policy_id) == 1


def test_the_policy_api_needs_the_admin_token(server: AuthgateServer) -> None:
    with httpx.Client(base_url=server.admin) as anonymous:
        assert anonymous.get("/admin/policies").status_code == 401
        assert anonymous.post("/admin/policies", json=HYDRA).status_code == 401
        assert anonymous.delete("/admin/policies/anything").status_code == 401
