"""Three replicas on one PostgreSQL and one Redis behave as one (issue 12, "Replicas test").

Database polling (revocations, policies, signing keys) is set to an hour, and gateway
reloads are never polled: what reaches another replica here came through Redis. The
client and user caches expire by themselves after a few seconds, so a change to them must
be seen before the entry warmed by the test would have expired: only a notice brings it
that soon. Each propagation test logs the delay it saw (`--log-cli-level=INFO` shows them);
none is asserted beyond those deadlines.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from authgate.clients.registry import CACHE_TTL as CLIENT_CACHE_TTL
from authgate.gateway.authenticate import USER_CHECK_TTL
from tests.integration.cluster_support import (
    ROUTES,
    admin_on,
    cluster_settings,
    first_seen,
    forward,
    rewrite_config,
    some_address,
    start_replicas,
)
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    PASSWORD,
    client_token,
    jose_parts,
    machine,
    person,
    post_form,
    token_request,
)
from tests.redis_support import REDIS_URL, redis_or_skip, unique_prefix

log = logging.getLogger(__name__)

LOCKED_OUT = "127.0.0.3"
"""The address the wrong passwords come from: its own lockout must not refuse other tests."""
ELSEWHERE = "127.0.0.4"
"""An address with no failures: a refusal from it is the username's lockout."""


@pytest.fixture(scope="module")
def backend() -> str:
    """Replicas share one database: the issue's deployment is PostgreSQL."""
    return "postgres"


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


def arrivals(
    name: str,
    servers: list[AuthgateServer],
    probe: Callable[[AuthgateServer], object],
    expected: object,
    since: float,
    until: float | None = None,
) -> list[float | None]:
    """Seconds from `since` until each server's `probe` answered `expected` (None: not
    before `until`), logged as the change `name`'s propagation delays."""
    delays = []
    for server in servers:
        delay = first_seen(lambda: probe(server), expected, since, until)
        log.info("propagation of %s to :%d: %s s", name, server.public_port, delay)
        delays.append(delay)
    return delays


def login(server: AuthgateServer, email: str, address: str | None = None) -> httpx.Response:
    with server.public_client(local_address=address) as client:
        return client.post("/v1/login", json={"username": email, "password": PASSWORD})


def signed_in(server: AuthgateServer, email: str) -> dict[str, str]:
    answer = login(server, email)
    assert answer.status_code == 200, answer.text
    tokens: dict[str, str] = answer.json()
    return tokens


def me(server: AuthgateServer, access_token: str) -> int:
    with server.public_client() as client:
        headers = {"Authorization": f"Bearer {access_token}"}
        return client.get("/v1/me", headers=headers).status_code


def test_signed_up_on_one_confirmed_on_another_signs_in_on_the_third(
    replicas: list[AuthgateServer],
) -> None:
    first, second, third = replicas
    email = unique_email("cluster")
    with first.public_client() as client:
        created = client.post("/v1/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    code = first.wait_for_mail(email).code  # the replica that signed up sends the mail
    with second.public_client() as client:
        confirmed = client.post("/v1/signup/confirm", json={"username": email, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert login(third, email).status_code == 200


def test_a_token_from_one_replica_verifies_on_the_others(
    replicas: list[AuthgateServer],
) -> None:
    first, second, third = replicas
    email, _ = person(first)
    token = signed_in(first, email)["access_token"]
    assert [me(s, token) for s in (second, third)] == [200, 200]
    assert [forward(s, "/orders/1", token) for s in (second, third)] == [200, 200]


def test_five_wrong_passwords_spread_over_the_replicas_lock_the_user_on_all(
    replicas: list[AuthgateServer],
) -> None:
    first, second, third = replicas
    email, _ = person(first)
    for server in (first, second, third, first, second):
        with server.public_client(local_address=LOCKED_OUT) as client:
            wrong = client.post("/v1/login", json={"username": email, "password": "not it 1"})
        assert wrong.status_code == 401
    assert [login(s, email, ELSEWHERE).status_code for s in replicas] == [429, 429, 429]


def test_a_rate_limit_of_10_a_minute_allows_10_in_total_not_30(
    replicas: list[AuthgateServer],
) -> None:
    address = some_address()
    started = time.monotonic()
    answers = [
        forward(replicas[n % 3], "/limited/1", **{"X-Forwarded-For": address}) for n in range(30)
    ]
    refilled = int((time.monotonic() - started) // 6)  # GCRA gives one back every 6 s
    assert 10 <= answers.count(200) <= 10 + refilled
    assert answers.count(200) + answers.count(429) == 30


def test_a_token_revoked_on_one_replica_is_refused_by_the_others(
    replicas: list[AuthgateServer],
) -> None:
    first, second, third = replicas
    client = machine(first)
    token = str(client_token(first, client, scope="orders:read")["access_token"])
    assert [forward(s, "/orders/1", token) for s in replicas] == [200, 200, 200]
    assert post_form(first, "/oauth2/revoke", client, token=token).status_code == 200
    since = time.monotonic()
    assert None not in arrivals(
        "revoked", [second, third], lambda s: forward(s, "/orders/1", token), 401, since
    )


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
    since = time.monotonic()
    assert None not in arrivals(
        "policy", [first], lambda s: decide(s, token, subject, resource), True, since
    )


def test_a_key_rotated_on_one_replica_signs_on_another_and_old_tokens_still_verify(
    replicas: list[AuthgateServer],
) -> None:
    first, second, _ = replicas
    client = machine(first)
    old = str(client_token(first, client, scope="orders:read")["access_token"])
    with admin_on(second, first.admin_token) as admin:
        rotated = admin.post("/admin/keys/rotate")
    assert rotated.status_code == 201, rotated.text
    kid = rotated.json()["kid"]
    since = time.monotonic()

    def signing_kid(server: AuthgateServer) -> str:
        token = str(client_token(server, client, scope="orders:read")["access_token"])
        return str(jose_parts(token)[0]["kid"])

    assert None not in arrivals("keys", [first], signing_kid, kid, since)
    new = str(client_token(first, client, scope="orders:read")["access_token"])
    assert [forward(s, "/orders/1", old) for s in replicas] == [200, 200, 200]
    assert [forward(s, "/orders/1", new) for s in replicas] == [200, 200, 200]


def test_a_client_secret_rotated_on_one_replica_is_refused_by_the_others(
    replicas: list[AuthgateServer],
) -> None:
    first, second, third = replicas
    client = machine(first)
    warmed = time.monotonic()
    for server in (second, third):  # each now holds the client, old secret and all
        client_token(server, client, scope="orders:read")
    with admin_on(first, first.admin_token) as admin:
        answer = admin.post(f"/admin/clients/{client['client_id']}/secret")
    assert answer.status_code == 200, answer.text
    since = time.monotonic()

    def grant(server: AuthgateServer) -> int:
        return token_request(server, client, grant_type="client_credentials").status_code

    assert None not in arrivals(
        "client_secret", [second, third], grant, 401, since, warmed + CLIENT_CACHE_TTL
    )
    rotated = {**client, "client_secret": answer.json()["client_secret"]}
    assert [client_token(s, rotated)["token_type"] for s in (second, third)] == ["Bearer"] * 2


def test_a_client_deleted_on_one_replica_is_refused_by_the_others(
    replicas: list[AuthgateServer],
) -> None:
    first, second, third = replicas
    client = machine(first)
    token = str(client_token(first, client, scope="orders:read")["access_token"])
    warmed = time.monotonic()
    assert [forward(s, "/orders/1", token) for s in (second, third)] == [200, 200]
    with admin_on(first, first.admin_token) as admin:
        assert admin.delete(f"/admin/clients/{client['client_id']}").status_code == 204
    since = time.monotonic()
    assert None not in arrivals(
        "client_deleted",
        [second, third],
        lambda s: forward(s, "/orders/1", token),
        401,
        since,
        warmed + CLIENT_CACHE_TTL,
    )


def user_ended_elsewhere(
    replicas: list[AuthgateServer],
    name: str,
    end: Callable[[AuthgateServer, str, dict[str, str]], None],
) -> dict[str, str]:
    """Sign a user in on the first replica, warm the others' user checks with its token,
    `end(first, sub, tokens)` it there; assert the others refuse the token, and return it."""
    first, second, third = replicas
    email, sub = person(first)
    tokens = signed_in(first, email)
    warmed = time.monotonic()
    assert [forward(s, "/orders/1", tokens["access_token"]) for s in (second, third)] == [200] * 2
    end(first, sub, tokens)
    since = time.monotonic()
    assert None not in arrivals(
        name,
        [second, third],
        lambda s: forward(s, "/orders/1", tokens["access_token"]),
        401,
        since,
        warmed + USER_CHECK_TTL,
    )
    return tokens


def test_signing_out_everywhere_on_one_replica_ends_the_sign_ins_on_the_others(
    replicas: list[AuthgateServer],
) -> None:
    def sign_out_everywhere(server: AuthgateServer, sub: str, tokens: dict[str, str]) -> None:
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        with server.public_client() as client:
            assert client.post("/v1/logout/all", headers=headers).status_code == 200

    tokens = user_ended_elsewhere(replicas, "sign_out", sign_out_everywhere)
    for server in replicas[1:]:
        with server.public_client() as client:
            body = {"refresh_token": tokens["refresh_token"]}
            assert client.post("/v1/token/refresh", json=body).status_code == 401


def test_a_user_disabled_on_one_replica_is_refused_by_the_others(
    replicas: list[AuthgateServer],
) -> None:
    def disable(server: AuthgateServer, sub: str, tokens: dict[str, str]) -> None:
        with admin_on(server, server.admin_token) as admin:
            assert admin.post(f"/admin/users/{sub}/disable").status_code == 200

    user_ended_elsewhere(replicas, "user_disabled", disable)


def test_a_user_deleted_on_one_replica_is_refused_by_the_others(
    replicas: list[AuthgateServer],
) -> None:
    def delete(server: AuthgateServer, sub: str, tokens: dict[str, str]) -> None:
        with admin_on(server, server.admin_token) as admin:
            assert admin.delete(f"/admin/users/{sub}").status_code == 204

    user_ended_elsewhere(replicas, "user_deleted", delete)


def test_a_gateway_reload_on_one_replica_reloads_the_others(replicas: list[AuthgateServer]) -> None:
    first, second, third = replicas
    added = {
        "name": "added",
        "path": "/added/**",
        "upstream": "orders",
        "authenticate": ["anonymous"],
        "authorize": "allow",
    }
    assert [forward(s, "/added/1") for s in replicas] == [404] * 3
    for server in replicas:  # as a shared ConfigMap would change under every replica
        rewrite_config(server, gateway={"routes": [*ROUTES["routes"], added]})
    with admin_on(first, first.admin_token) as admin:
        assert admin.post("/admin/gateway/reload").status_code == 200
    since = time.monotonic()
    assert None not in arrivals(
        "gateway", [second, third], lambda s: forward(s, "/added/1"), 200, since
    )
    assert forward(first, "/added/1") == 200
