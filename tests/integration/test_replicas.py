"""Two authgate processes sharing one database behave as one pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

PASSWORD = "lemon tree 4 harbour"


def two_replicas(
    make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthgateServer, AuthgateServer]]:
    first = make_server(tokens={"keys_reload_interval": "1h"})
    shared = {
        "issuer": first.public,
        "secrets": {"key_encryption_key": f"file:{first.data_dir / 'kek'}"},
        "admin": {"token": f"file:{first.data_dir / 'admin-token'}"},
        "tokens": {"keys_reload_interval": "1h"},
    }
    workdir: Path = tmp_path_factory.mktemp("replica")
    second = AuthgateServer(workdir, first.database_url, shared).start()
    yield first, second
    second.stop()


@pytest.fixture(scope="module")
def replicas(
    make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthgateServer, AuthgateServer]]:
    yield from two_replicas(make_server, tmp_path_factory)


@pytest.fixture
def own_replicas(
    make_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthgateServer, AuthgateServer]]:
    """Replicas of their own, for a test whose lockout of the loopback address would refuse
    the sign-ins of the tests after it."""
    yield from two_replicas(make_server, tmp_path_factory)


def login(server: AuthgateServer, email: str) -> dict[str, str]:
    with server.public_client() as client:
        answer = client.post("/v1/login", json={"username": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, str] = answer.json()
    return tokens


def me(server: AuthgateServer, access_token: str) -> httpx.Response:
    with server.public_client() as client:
        return client.get("/v1/me", headers={"Authorization": f"Bearer {access_token}"})


def test_a_user_created_on_one_replica_signs_in_on_the_other(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    email = unique_email("replica")
    with first.admin_client() as admin:
        assert (
            admin.post("/admin/users", json={"email": email, "password": PASSWORD}).status_code
            == 201
        )
    tokens = login(second, email)
    assert me(first, tokens["access_token"]).status_code == 200


def test_a_key_rotated_on_one_replica_is_accepted_by_the_other_at_once(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    email = unique_email("rotation")
    with first.admin_client() as admin:
        admin.post("/admin/users", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {first.admin_token}"}
    with httpx.Client(base_url=second.admin, headers=headers) as admin:
        rotated = admin.post("/admin/keys/rotate")
    assert rotated.status_code == 201
    token = login(second, email)["access_token"]
    answer = me(first, token)
    assert answer.status_code == 200, answer.text


def test_a_refresh_token_spent_on_one_replica_is_reuse_on_the_other(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = replicas
    email = unique_email("refresh")
    with first.admin_client() as admin:
        admin.post("/admin/users", json={"email": email, "password": PASSWORD})
    refresh_token = login(first, email)["refresh_token"]
    with first.public_client() as client:
        rotated = client.post("/v1/token/refresh", json={"refresh_token": refresh_token})
        assert rotated.status_code == 200
        # Spent before the token last rotated: beyond the reuse interval's one repeat.
        latest = client.post(
            "/v1/token/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
        )
    assert latest.status_code == 200
    with second.public_client() as client:
        replay = client.post("/v1/token/refresh", json={"refresh_token": refresh_token})
        assert replay.status_code == 401
        after = client.post(
            "/v1/token/refresh", json={"refresh_token": latest.json()["refresh_token"]}
        )
    assert after.status_code == 401


def attempt(server: AuthgateServer, email: str, password: str) -> httpx.Response:
    with server.public_client() as client:
        return client.post("/v1/login", json={"username": email, "password": password})


def test_wrong_passwords_on_two_replicas_add_up_to_one_lockout(
    own_replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    first, second = own_replicas
    email = unique_email("spread")
    with first.admin_client() as admin:
        admin.post("/admin/users", json={"email": email, "password": PASSWORD})
    for server in (first, first, first, second, second):
        assert attempt(server, email, "wrong password 1").status_code == 401

    assert attempt(first, email, PASSWORD).status_code == 429
    assert attempt(second, email, PASSWORD).status_code == 429


def test_a_lockout_survives_a_restart(make_server: ServerFactory) -> None:
    server = make_server()
    email = unique_email("restart")
    with server.admin_client() as admin:
        admin.post("/admin/users", json={"email": email, "password": PASSWORD})
    for _ in range(5):
        attempt(server, email, "wrong password 1")

    server.stop()
    server.start()

    assert attempt(server, email, PASSWORD).status_code == 429


def test_a_repeated_refresh_on_the_other_replica_gets_the_same_tokens(
    replicas: tuple[AuthgateServer, AuthgateServer],
) -> None:
    """Within tokens.refresh_reuse_interval: the kept pair opens with the shared KEK."""
    first, second = replicas
    email = unique_email("repeat")
    with first.admin_client() as admin:
        admin.post("/admin/users", json={"email": email, "password": PASSWORD})
    refresh_token = login(first, email)["refresh_token"]
    with first.public_client() as client:
        rotated = client.post("/v1/token/refresh", json={"refresh_token": refresh_token})
    with second.public_client() as client:
        repeated = client.post("/v1/token/refresh", json={"refresh_token": refresh_token})
    assert rotated.status_code == repeated.status_code == 200
    assert repeated.json() == rotated.json()
