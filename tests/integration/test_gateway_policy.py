"""The gate's `policy` authorizer end to end: a real authgate in front of a real upstream.

Policies are written through the admin API while the server runs (a change made through a
process applies to its next request). The trusted proxy is 127.0.0.2; requests from
127.0.0.1 stand for any client. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import PASSWORD, RESOURCE_SCOPES, client_token, machine, person
from tests.integration.upstream_app import Upstream

PROXY = "127.0.0.2"
CLIENT = "127.0.0.1"
OFFICE = "10.0.0.0/8"


def policy_route(name: str, path: str, action: str, resource: str, **extra: Any) -> Any:
    return {
        "name": name,
        "path": path,
        "upstream": "orders",
        "authenticate": ["jwt", "anonymous"],
        "authorize": {"policy": {"action": action, "resource": resource}},
        **extra,
    }


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    running = Upstream(Path(tmp_path_factory.mktemp("upstream")), "orders-1").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gate(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    gateway = {
        "trusted_proxies": [f"{PROXY}/32"],
        "upstreams": {"orders": {"targets": [upstream.url]}},
        "routes": [
            policy_route(
                "orders",
                "/orders/**",
                "{method_verb}",
                "resources:orders:{path[1]}",
                strip_prefix="/orders",
            ),
            policy_route("office", "/office/**", "{method}", "office:{route}:{path}"),
        ],
    }
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, gateway=gateway)


@pytest.fixture(scope="module")
def admin(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.admin_client() as client:
        yield client


@pytest.fixture(scope="module")
def client(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client(local_address=CLIENT) as http:
        yield http


@pytest.fixture(scope="module")
def proxy(gate: AuthgateServer) -> Iterator[httpx.Client]:
    with gate.public_client(local_address=PROXY) as http:
        yield http


@pytest.fixture(scope="module")
def worker(gate: AuthgateServer) -> tuple[str, str]:
    """(client id, access token) of a machine client."""
    registered = machine(gate)
    token = client_token(gate, registered, scope="orders:read")["access_token"]
    return str(registered["client_id"]), str(token)


def add_policy(admin: httpx.Client, **document: Any) -> str:
    body = {"id": f"p-{secrets.token_hex(4)}", **document}
    created = admin.post("/admin/policies", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def reader(admin: httpx.Client, worker: tuple[str, str]) -> str:
    """The worker may read numbered orders."""
    return add_policy(
        admin,
        subjects=[worker[0]],
        actions=["read"],
        resources=["resources:orders:<[0-9]+>"],
        effect="allow",
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_denied(answer: httpx.Response, reason_id: str) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.json()["reason_id"] == reason_id


def seen_by_upstream(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["server"] == "orders-1"
    return body


def upstream_header(body: dict[str, Any], name: str) -> str | None:
    values = [value for key, value in body["headers"] if key.lower() == name]
    return values[0] if values else None


def test_a_policy_allows_the_request_through_to_the_upstream(
    client: httpx.Client, worker: tuple[str, str], reader: str
) -> None:
    body = seen_by_upstream(client.get("/orders/42", headers=bearer(worker[1])))
    assert body["path"] == "/42"
    assert upstream_header(body, "x-authgate-sub") == worker[0]


def test_what_no_policy_allows_is_403_and_never_reaches_the_upstream(
    client: httpx.Client, worker: tuple[str, str], reader: str
) -> None:
    assert_denied(client.post("/orders/42", headers=bearer(worker[1])), "policy_denied")
    assert_denied(client.get("/orders/abc", headers=bearer(worker[1])), "policy_denied")


def test_a_deny_policy_overrides_and_is_named_in_the_log(
    gate: AuthgateServer,
    client: httpx.Client,
    admin: httpx.Client,
    worker: tuple[str, str],
    reader: str,
) -> None:
    deny = add_policy(
        admin,
        subjects=[worker[0]],
        actions=["<.*>"],
        resources=["resources:orders:13"],
        effect="deny",
    )
    assert_denied(client.get("/orders/13", headers=bearer(worker[1])), "policy_denied")
    assert client.get("/orders/14", headers=bearer(worker[1])).status_code == 200
    log = gate.log.read_text()
    assert f"reason_id=policy_denied route=orders subject={worker[0]}" in log
    assert f"policy={deny}" in log


@pytest.mark.parametrize("path", ["/orders", "/orders/"])
def test_a_path_too_short_for_the_template_is_denied(
    client: httpx.Client, worker: tuple[str, str], reader: str, path: str
) -> None:
    assert_denied(client.get(path, headers=bearer(worker[1])), "policy_input_missing")


def test_group_members_are_allowed_by_a_group_policy(
    gate: AuthgateServer, client: httpx.Client, admin: httpx.Client
) -> None:
    group = f"clerks-{secrets.token_hex(3)}"
    add_policy(
        admin,
        subjects=[f"group:{group}"],
        actions=["write"],
        resources=["resources:orders:<.*>"],
        effect="allow",
    )
    member_email, member = person(gate)
    admin.post("/admin/groups", json={"name": group})
    assert admin.put(f"/admin/groups/{group}/members/{member}").status_code == 204
    outsider_email, _ = person(gate)

    def login(email: str) -> str:
        answer = client.post("/v1/login", json={"username": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    body = seen_by_upstream(client.put("/orders/7", headers=bearer(login(member_email))))
    assert body["method"] == "PUT"
    assert_denied(client.put("/orders/7", headers=bearer(login(outsider_email))), "policy_denied")


@pytest.fixture(scope="module")
def office_policy(admin: httpx.Client, worker: tuple[str, str]) -> str:
    """The worker may GET office pages, from the office network only."""
    return add_policy(
        admin,
        subjects=[worker[0]],
        actions=["GET"],
        resources=["office:office:/office/<.*>"],
        effect="allow",
        conditions={"remoteIP": {"type": "CIDRCondition", "options": {"cidr": OFFICE}}},
    )


def test_remote_ip_outside_the_network_is_denied(
    client: httpx.Client, worker: tuple[str, str], office_policy: str
) -> None:
    assert_denied(client.get("/office/plan", headers=bearer(worker[1])), "policy_denied")


def test_remote_ip_reported_by_a_trusted_proxy_is_believed(
    proxy: httpx.Client, worker: tuple[str, str], office_policy: str
) -> None:
    headers = {**bearer(worker[1]), "X-Forwarded-For": "10.1.2.3"}
    seen_by_upstream(proxy.get("/office/plan", headers=headers))
    # HEAD is authorized like GET: the policy names GET only.
    assert proxy.head("/office/plan", headers=headers).status_code == 200


def test_remote_ip_claimed_by_a_client_is_not_believed(
    client: httpx.Client, worker: tuple[str, str], office_policy: str
) -> None:
    headers = {**bearer(worker[1]), "X-Forwarded-For": "10.1.2.3"}
    assert_denied(client.get("/office/plan", headers=headers), "policy_denied")


def test_an_anonymous_caller_is_asked_to_sign_in(client: httpx.Client, reader: str) -> None:
    answer = client.get("/orders/42")
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == 'Bearer realm="authgate"'


def test_a_deleted_policy_stops_allowing_at_once(
    client: httpx.Client, admin: httpx.Client, worker: tuple[str, str]
) -> None:
    policy = add_policy(
        admin,
        subjects=[worker[0]],
        actions=["write"],
        resources=["resources:orders:99"],
        effect="allow",
    )
    assert client.delete("/orders/99", headers=bearer(worker[1])).status_code == 200
    assert admin.delete(f"/admin/policies/{policy}").status_code == 204
    assert_denied(client.delete("/orders/99", headers=bearer(worker[1])), "policy_denied")


def test_forward_auth_decides_by_the_same_policies(
    proxy: httpx.Client, worker: tuple[str, str], office_policy: str
) -> None:
    described = {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "api.example.com",
        "X-Forwarded-Uri": "/office/plan",
        **bearer(worker[1]),
    }
    allowed = proxy.get("/_authgate/forward", headers={**described, "X-Forwarded-For": "10.9.9.9"})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["x-authgate-sub"] == worker[0]
    denied = proxy.get("/_authgate/forward", headers={**described, "X-Forwarded-For": "192.0.2.1"})
    assert_denied(denied, "policy_denied")
