"""Browser apps on other origins: what CORS lets them read, and what it does not."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer

APP = "https://spa.example"


@pytest.fixture(scope="module")
def cors_server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(oauth={"cors_origins": [APP]})


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/jwks.json"])
def test_public_documents_are_readable_from_any_origin(
    cors_server: AuthgateServer, path: str
) -> None:
    with cors_server.public_client() as client:
        answer = client.get(path, headers={"Origin": "https://anyone.example"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/revoke", "/oauth2/userinfo"])
def test_a_configured_origin_passes_the_preflight(cors_server: AuthgateServer, path: str) -> None:
    with cors_server.public_client() as client:
        answer = client.options(
            path,
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in answer.headers


def test_an_unconfigured_origin_fails_the_preflight(cors_server: AuthgateServer) -> None:
    with cors_server.public_client() as client:
        answer = client.options(
            "/oauth2/token",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers


def test_a_token_answer_names_the_configured_origin(cors_server: AuthgateServer) -> None:
    with cors_server.public_client() as client:
        answer = client.post(
            "/oauth2/token", data={"grant_type": "client_credentials"}, headers={"Origin": APP}
        )
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize("path", ["/v1/login", "/auth/login", "/oauth2/introspect"])
def test_other_endpoints_send_no_cors_headers(cors_server: AuthgateServer, path: str) -> None:
    with cors_server.public_client() as client:
        answer = client.post(path, data={}, headers={"Origin": APP})
    assert "access-control-allow-origin" not in answer.headers
