"""The Cognito endpoint's wire rules over raw HTTP: where it lives, how it names errors,
and the request id on every answer (what botocore relies on before any operation)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.harness import AuthgateServer

TARGET = "AWSCognitoIdentityProviderService."
JSON_11 = "application/x-amz-json-1.1"


def post(
    server: AuthgateServer,
    operation: str | None,
    body: bytes | str,
    *,
    path: str = "/cognito/",
    media: str = JSON_11,
) -> httpx.Response:
    headers = {"Content-Type": media}
    if operation is not None:
        headers["X-Amz-Target"] = TARGET + operation
    content = body.encode() if isinstance(body, str) else body
    with server.public_client() as client:
        return client.post(path, content=content, headers=headers)


def error_name(response: httpx.Response) -> str:
    assert response.headers["x-amzn-ErrorType"] == response.json()["__type"] + ":"
    return str(response.json()["__type"])


@pytest.mark.parametrize("path", ["/cognito", "/cognito/"])
def test_both_paths_answer_with_a_request_id(server: AuthgateServer, path: str) -> None:
    response = post(server, "NoSuchOperation", "{}", path=path)

    assert response.status_code == 400
    assert response.headers["x-amzn-RequestId"]
    assert response.headers["content-type"] == JSON_11


def test_an_unknown_target_is_an_unknown_operation(server: AuthgateServer) -> None:
    response = post(server, "NoSuchOperation", "{}")

    assert error_name(response) == "UnknownOperationException"


def test_a_missing_target_is_an_unknown_operation(server: AuthgateServer) -> None:
    response = post(server, None, "{}")

    assert error_name(response) == "UnknownOperationException"


def test_a_target_of_another_service_is_an_unknown_operation(server: AuthgateServer) -> None:
    with server.public_client() as client:
        response = client.post(
            "/cognito/",
            content=b"{}",
            headers={"Content-Type": JSON_11, "X-Amz-Target": "DynamoDB_20120810.SignUp"},
        )

    assert error_name(response) == "UnknownOperationException"


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "[]",
        '{"ClientId": "a", "ClientId": "b"}',
        '{"n": NaN}',
        '"\\ud800"',
        b"\xff\xfe",
    ],
    ids=["truncated", "not-an-object", "duplicate-name", "nan", "lone-surrogate", "not-utf8"],
)
def test_a_malformed_body_is_a_serialization_error(
    server: AuthgateServer, body: str | bytes
) -> None:
    response = post(server, "SignUp", body)

    assert response.status_code == 400
    assert error_name(response) == "SerializationException"


def test_another_media_type_is_a_serialization_error(server: AuthgateServer) -> None:
    response = post(server, "SignUp", "{}", media="text/plain")

    assert error_name(response) == "SerializationException"


def test_a_body_over_the_bound_is_a_serialization_error(server: AuthgateServer) -> None:
    response = post(server, "SignUp", json.dumps({"Username": "x" * 70_000}))

    assert error_name(response) == "SerializationException"


def test_an_admin_operation_without_a_signature_is_refused(server: AuthgateServer) -> None:
    response = post(server, "AdminGetUser", '{"UserPoolId": "us-east-1_authgate"}')

    assert response.status_code in (400, 403)
    assert error_name(response) in {
        "UnknownOperationException",  # on a branch without the admin operations
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
    }


def test_get_is_not_served(server: AuthgateServer) -> None:
    with server.public_client() as client:
        response = client.get("/cognito/")

    assert response.status_code == 405


@pytest.mark.parametrize(
    ("body", "member"),
    [
        ({"ClientId": 7, "Username": "a", "Password": "p"}, "clientId"),
        ({"ClientId": "c" * 129, "Username": "a", "Password": "p"}, "clientId"),
        ({"ClientId": "c", "Username": "a b", "Password": "p"}, "username"),
        (
            {"ClientId": "c", "Username": "a", "Password": "p", "UserAttributes": {}},
            "userAttributes",
        ),
        ({"Username": "a", "Password": "p"}, "clientId"),
    ],
    ids=["wrong-type", "too-long", "bad-pattern", "not-a-list", "missing"],
)
def test_a_bad_member_is_an_invalid_parameter_naming_it(
    server: AuthgateServer, body: dict[str, object], member: str
) -> None:
    response = post(server, "SignUp", json.dumps(body))

    assert response.status_code == 400
    assert error_name(response) == "InvalidParameterException"
    assert f"'{member}'" in response.json()["message"]
