"""Two authgate processes on one database decide with the same policies.

A change made through one process's admin API must be seen by the other within 5 s
(issue 5). It is observed through the other process's own decisions (`POST
/authz/allowed`), which come from its compiled policies in memory, not from the database.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer

PROPAGATION = 5.0  # the bound for a change to reach every process
POLL = 0.1


@pytest.fixture(scope="module")
def replicas(
    make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthgateServer, AuthgateServer]]:
    first = make_server()
    shared = {
        "issuer": first.public,
        "secrets": {"key_encryption_key": f"file:{first.data_dir / 'kek'}"},
        "admin": {"token": f"file:{first.data_dir / 'admin-token'}"},
    }
    workdir: Path = tmp_path_factory.mktemp("replica")
    second = AuthgateServer(workdir, first.database_url, shared).start()
    yield first, second
    second.stop()


def decide(server: AuthgateServer, token: str, subject: str, resource: str) -> dict[str, Any]:
    """The server's answer, asked with the admin token both processes share."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"subject": subject, "action": "read", "resource": resource}
    with server.public_client() as client:
        answer = client.post("/authz/allowed", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    decision: dict[str, Any] = answer.json()
    return decision


def decision_within(
    server: AuthgateServer, token: str, subject: str, resource: str, expected: dict[str, Any]
) -> dict[str, Any]:
    """Poll the server's decision until it is `expected` or PROPAGATION has passed."""
    deadline = time.monotonic() + PROPAGATION
    for _ in range(int(PROPAGATION / POLL) + 1):
        decision = decide(server, token, subject, resource)
        if {k: decision.get(k) for k in expected} == expected or time.monotonic() > deadline:
            return decision
        time.sleep(POLL)
    return decide(server, token, subject, resource)


def allow(subject: str, policy_id: str) -> dict[str, Any]:
    return {
        "id": policy_id,
        "subjects": [subject],
        "actions": ["read"],
        "resources": ["resources:orders:<.*>"],
        "effect": "allow",
    }


def names() -> tuple[str, str]:
    tag = secrets.token_hex(4)
    return f"users:{tag}", f"policy-{tag}"


def test_a_policy_created_on_one_process_decides_on_the_other(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    subject, policy_id = names()
    assert decide(second, first.admin_token, subject, "resources:orders:1")["allowed"] is False
    with first.admin_client() as admin:
        assert admin.post("/admin/policies", json=allow(subject, policy_id)).status_code == 201
    expected = {"allowed": True, "reason": policy_id}
    decision = decision_within(second, first.admin_token, subject, "resources:orders:1", expected)
    assert {k: decision[k] for k in expected} == expected


def test_a_policy_deleted_on_one_process_stops_allowing_on_the_other(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    subject, policy_id = names()
    with first.admin_client() as admin:
        admin.post("/admin/policies", json=allow(subject, policy_id))
        decision_within(second, first.admin_token, subject, "resources:orders:1", {"allowed": True})
        assert admin.delete(f"/admin/policies/{policy_id}").status_code == 204
    expected = {"allowed": False, "reason": "no_match"}
    decision = decision_within(second, first.admin_token, subject, "resources:orders:1", expected)
    assert {k: decision[k] for k in expected} == expected


def test_a_deny_added_on_one_process_overrides_on_the_other(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    subject, policy_id = names()
    deny = {**allow(subject, f"{policy_id}-deny"), "effect": "deny"}
    deny["resources"] = ["resources:orders:secret"]
    with first.admin_client() as admin:
        admin.post("/admin/policies", json=allow(subject, policy_id))
        decision_within(
            second, first.admin_token, subject, "resources:orders:secret", {"allowed": True}
        )
        assert admin.post("/admin/policies", json=deny).status_code == 201
    expected = {"allowed": False, "reason": deny["id"]}
    decision = decision_within(
        second, first.admin_token, subject, "resources:orders:secret", expected
    )
    assert {k: decision[k] for k in expected} == expected


def test_the_process_that_made_a_change_decides_with_it_at_once(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, _ = replicas
    subject, policy_id = names()
    with first.admin_client() as admin:
        assert admin.post("/admin/policies", json=allow(subject, policy_id)).status_code == 201
    decision = decide(first, first.admin_token, subject, "resources:orders:1")
    assert (decision["allowed"], decision["reason"]) == (True, policy_id)


def test_a_policy_replaced_on_one_process_decides_anew_on_the_other(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    subject, policy_id = names()
    with first.admin_client() as admin:
        admin.post("/admin/policies", json=allow(subject, policy_id))
        decision_within(second, first.admin_token, subject, "resources:orders:1", {"allowed": True})
        moved = {**allow(subject, policy_id), "resources": ["resources:invoices:<.*>"]}
        assert admin.put(f"/admin/policies/{policy_id}", json=moved).status_code == 200
    expected = {"allowed": False, "reason": "no_match"}
    decision = decision_within(second, first.admin_token, subject, "resources:orders:1", expected)
    assert {k: decision[k] for k in expected} == expected
    assert decide(second, first.admin_token, subject, "resources:invoices:1")["allowed"] is True


def test_changes_made_on_both_processes_reach_both(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    (subject_a, policy_a), (subject_b, policy_b) = names(), names()
    token = {"Authorization": f"Bearer {first.admin_token}"}  # the token both processes share
    with httpx.Client(base_url=second.admin, headers=token, timeout=30) as admin:
        assert admin.post("/admin/policies", json=allow(subject_a, policy_a)).status_code == 201
    with first.admin_client() as admin:  # at once: the first may not have polled yet
        assert admin.post("/admin/policies", json=allow(subject_b, policy_b)).status_code == 201
    assert decide(first, first.admin_token, subject_b, "resources:orders:1")["allowed"] is True
    for server in (first, second):
        for subject, policy_id in ((subject_a, policy_a), (subject_b, policy_b)):
            expected = {"allowed": True, "reason": policy_id}
            decision = decision_within(
                server, first.admin_token, subject, "resources:orders:1", expected
            )
            assert {k: decision[k] for k in expected} == expected
