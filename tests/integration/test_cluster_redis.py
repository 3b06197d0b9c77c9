"""Three replicas on one database and one Redis behave as one (issue 12, "Redis").

Polling of the database is set to an hour: what reaches another replica here came
through Redis.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.cluster_support import (
    admin_on,
    cluster_settings,
    eventually,
    forward,
    some_address,
    start_replicas,
)
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import client_token, jose_parts, machine, post_form
from tests.redis_support import REDIS_URL, redis_or_skip, unique_prefix


@pytest.fixture(scope="module")
def replicas(
    make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[AuthgateServer]]:
    redis_or_skip()
    settings = cluster_settings(REDIS_URL, unique_prefix("cluster"))
    servers = start_replicas(make_server, tmp_path_factory, 3, settings)
    yield servers
    for server in servers[1:]:
        server.stop()


def test_a_rate_limit_is_one_budget_across_replicas(replicas: list[AuthgateServer]) -> None:
    address = some_address()
    answers = [
        forward(replicas[n % 3], "/limited/1", **{"X-Forwarded-For": address}) for n in range(30)
    ]
    assert answers.count(200) == 10
    assert answers.count(429) == 20


def test_a_token_revoked_on_one_replica_is_refused_by_the_others(
    replicas: list[AuthgateServer],
) -> None:
    first, second, third = replicas
    client = machine(first)
    token = str(client_token(first, client, scope="orders:read")["access_token"])
    assert [forward(s, "/orders/1", token) for s in replicas] == [200, 200, 200]
    assert post_form(first, "/oauth2/revoke", client, token=token).status_code == 200
    for other in (second, third):
        assert eventually(lambda s=other: forward(s, "/orders/1", token), lambda a: a == 401) == 401


def decide(server: AuthgateServer, token: str, subject: str, resource: str) -> bool:
    """The server's decision, asked with the admin token every replica shares."""
    body = {"subject": subject, "action": "read", "resource": resource}
    headers = {"Authorization": f"Bearer {token}"}
    with server.public_client() as client:
        answer = client.post("/authz/allowed", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    allowed: bool = answer.json()["allowed"]
    return allowed


def test_a_policy_added_on_one_replica_decides_on_another(replicas: list[AuthgateServer]) -> None:
    first, _, third = replicas
    subject, resource = f"user:{secrets.token_hex(4)}", f"doc:{secrets.token_hex(4)}"
    token = first.admin_token
    assert not decide(first, token, subject, resource)
    policy: dict[str, Any] = {
        "id": f"p-{secrets.token_hex(4)}",
        "subjects": [subject],
        "actions": ["read"],
        "resources": [resource],
        "effect": "allow",
    }
    with admin_on(third, token) as admin:
        assert admin.post("/admin/policies", json=policy).status_code == 201
    assert eventually(lambda: decide(first, token, subject, resource), bool)


def test_a_key_rotated_on_one_replica_signs_on_another(replicas: list[AuthgateServer]) -> None:
    first, second, _ = replicas
    client = machine(first)
    with admin_on(second, first.admin_token) as admin:
        rotated = admin.post("/admin/keys/rotate")
    assert rotated.status_code == 201, rotated.text
    kid = rotated.json()["kid"]

    def signing_kid() -> str:
        token = str(client_token(first, client, scope="orders:read")["access_token"])
        return str(jose_parts(token)[0]["kid"])

    assert eventually(signing_kid, lambda k: k == kid) == kid
