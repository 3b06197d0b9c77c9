"""Taking a consent back also takes back what it allowed."""

from __future__ import annotations

from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    assert_oauth_error,
    code_tokens,
    person,
    token_request,
    web_app,
)


def test_revoking_a_consent_ends_that_clients_refresh_tokens(server: AuthgateServer) -> None:
    app = web_app(server, first_party=False)
    email, _ = person(server)
    tokens = code_tokens(server, app, email)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    with server.public_client() as http:
        revoked = http.delete(f"/v1/me/consents/{app['client_id']}", headers=bearer)
    assert revoked.status_code == 204
    answer = token_request(
        server, app, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert_oauth_error(answer, 400, "invalid_grant")


def test_revoking_one_consent_leaves_other_clients_alone(server: AuthgateServer) -> None:
    first, second = web_app(server, first_party=False), web_app(server, first_party=False)
    email, _ = person(server)
    first_tokens = code_tokens(server, first, email)
    second_tokens = code_tokens(server, second, email)
    bearer = {"Authorization": f"Bearer {first_tokens['access_token']}"}
    with server.public_client() as http:
        assert (
            http.delete(f"/v1/me/consents/{first['client_id']}", headers=bearer).status_code == 204
        )
    answer = token_request(
        server, second, grant_type="refresh_token", refresh_token=second_tokens["refresh_token"]
    )
    assert answer.status_code == 200, answer.text
