"""examples/aws/lambda_authorizer.py, called as Lambda calls it, against a real server.

The function reads its settings from the environment, as in Lambda; each test sets them
for itself (monkeypatch only sets variables: the function and the server are real).
"""

from __future__ import annotations

from typing import Any

import pytest
from examples.aws import lambda_authorizer

from tests.aws_samples import http_api_event, request_event, token_event
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.oauth_support import RESOURCE_SCOPES, client_token, machine, post_form

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request"


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    settings = {"require": {"scopes_any": ["orders:read"]}}
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, aws_authorizer=settings)


@pytest.fixture(scope="module")
def function_client(server: AuthgateServer) -> dict[str, Any]:
    return machine(server, scope="authgate:decide")


@pytest.fixture(scope="module")
def read_token(server: AuthgateServer) -> str:
    reader = machine(server, scope="orders:read")
    return str(client_token(server, reader, scope="orders:read")["access_token"])


@pytest.fixture
def deployed(
    server: AuthgateServer, function_client: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHGATE_URL", server.public)
    monkeypatch.setenv("AUTHGATE_CLIENT_ID", function_client["client_id"])
    monkeypatch.setenv("AUTHGATE_CLIENT_SECRET", function_client["client_secret"])
    monkeypatch.setenv("AUTHGATE_TIMEOUT", "5")


@pytest.mark.usefixtures("deployed")
def test_the_function_returns_an_allow_for_an_allowed_token(read_token: str) -> None:
    answer = lambda_authorizer.handler(token_event(f"Bearer {read_token}", ARN), None)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert answer["policyDocument"]["Statement"][0]["Resource"] == ARN


@pytest.mark.usefixtures("deployed")
def test_the_function_returns_the_simple_answer_for_payload_2(read_token: str) -> None:
    assert lambda_authorizer.handler(http_api_event(f"Bearer {read_token}"), None)["isAuthorized"]


@pytest.mark.usefixtures("deployed")
def test_the_function_returns_a_deny_for_a_token_lacking_the_scope(
    server: AuthgateServer,
) -> None:
    writer = machine(server, scope="orders:write")
    token = client_token(server, writer, scope="orders:write")["access_token"]
    answer = lambda_authorizer.handler(request_event(f"Bearer {token}"), None)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@pytest.mark.usefixtures("deployed")
def test_the_function_raises_unauthorized_without_a_token() -> None:
    with pytest.raises(Exception, match="^Unauthorized$") as raised:
        lambda_authorizer.handler(request_event(None), None)
    assert type(raised.value) is Exception


@pytest.mark.usefixtures("deployed")
def test_the_function_raises_unauthorized_for_a_forged_token() -> None:
    with pytest.raises(Exception, match="^Unauthorized$"):
        lambda_authorizer.handler(token_event("Bearer a.b.c", ARN), None)


@pytest.mark.usefixtures("deployed")
def test_the_function_fails_closed_when_authgate_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, read_token: str
) -> None:
    monkeypatch.setenv("AUTHGATE_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(lambda_authorizer.AuthorizerFailure):
        lambda_authorizer.handler(token_event(f"Bearer {read_token}", ARN), None)


@pytest.mark.usefixtures("deployed")
def test_the_function_fails_closed_on_a_malformed_event(read_token: str) -> None:
    with pytest.raises(lambda_authorizer.AuthorizerFailure, match="400"):
        lambda_authorizer.handler({"type": "TOKEN", "authorizationToken": read_token}, None)


@pytest.mark.usefixtures("deployed")
def test_the_function_fails_closed_when_its_client_may_not_decide(
    server: AuthgateServer, monkeypatch: pytest.MonkeyPatch, read_token: str
) -> None:
    other = machine(server, scope="orders:read")
    monkeypatch.setenv("AUTHGATE_CLIENT_ID", other["client_id"])
    monkeypatch.setenv("AUTHGATE_CLIENT_SECRET", other["client_secret"])
    with pytest.raises(lambda_authorizer.AuthorizerFailure):
        lambda_authorizer.handler(token_event(f"Bearer {read_token}", ARN), None)


def test_the_function_refuses_a_plain_http_url_off_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTHGATE_URL", "http://authgate.example.com")
    with pytest.raises(lambda_authorizer.AuthorizerFailure, match="https"):
        lambda_authorizer.handler(token_event("Bearer x", ARN), None)


@pytest.mark.usefixtures("deployed")
def test_the_function_gets_a_new_token_when_its_cached_one_is_revoked(
    server: AuthgateServer, function_client: dict[str, Any], read_token: str
) -> None:
    event = token_event(f"Bearer {read_token}", ARN)
    assert lambda_authorizer.handler(event, None)["principalId"]
    cached = lambda_authorizer._tokens.get(
        server.public, function_client["client_id"], function_client["client_secret"], 5, False
    )
    revoked = post_form(server, "/oauth2/revoke", function_client, token=cached)
    assert revoked.status_code == 200
    answer = lambda_authorizer.handler(event, None)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
