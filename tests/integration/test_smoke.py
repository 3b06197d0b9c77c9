"""The walk-through of the README, end to end, on each backend."""

from __future__ import annotations

from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer


def test_signup_confirm_login_and_me(server: AuthgateServer) -> None:
    address = unique_email()
    with server.public_client() as client:
        created = client.post("/v1/signup", json={"email": address, "password": "correct horse 42"})
        assert created.status_code == 201
        code = server.wait_for_mail(address).code
        confirmed = client.post("/v1/signup/confirm", json={"username": address, "code": code})
        assert confirmed.status_code == 200
        tokens = client.post(
            "/v1/login", json={"username": address, "password": "correct horse 42"}
        )
        assert tokens.status_code == 200
        me = client.get(
            "/v1/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
        )
        assert me.status_code == 200
        assert me.json()["email"] == address
        assert me.json()["sub"] == created.json()["sub"]
