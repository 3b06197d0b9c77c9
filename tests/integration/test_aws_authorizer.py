"""`POST /_authgate/aws/authorizer` through a real server, fed API Gateway's documented
sample events (tests/aws_samples.py) of each payload version.

The authorizer section requires `orders:read` and asks the policies with action
`{method_verb}` and resource `{route}:{path}`; one policy lets the reader read
`abcdef123/test:/request`, the path the samples' ARNs name. The caller is a service
holding a client_credentials token with `authgate:decide`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.aws_samples import http_api_event, request_event, token_event
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    PASSWORD,
    RESOURCE_SCOPES,
    client_token,
    machine,
    person,
    post_form,
)
from tests.integration.test_metrics import moved

PATH = "/_authgate/aws/authorizer"
SAMPLE_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request"
POST_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/POST/request"
AUTHORIZER = {
    "require": {"scopes_any": ["orders:read"]},
    "policy": {"action": "{method_verb}", "resource": "{route}:{path}"},
}


@pytest.fixture(scope="module")
def server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        oauth={"scopes": RESOURCE_SCOPES}, tokens={"leeway": 0}, aws_authorizer=AUTHORIZER
    )


@pytest.fixture(scope="module")
def public(server: AuthgateServer) -> Iterator[httpx.Client]:
    with server.public_client() as client:
        yield client


@pytest.fixture(scope="module")
def caller(server: AuthgateServer) -> str:
    service = machine(server, scope="authgate:decide")
    return str(client_token(server, service, scope="authgate:decide")["access_token"])


@pytest.fixture(scope="module")
def reader(server: AuthgateServer) -> dict[str, Any]:
    """A client allowed to read the sample path by policy."""
    client = machine(server, scope="orders:read")
    policy = {
        "id": "aws-reader",
        "description": "the reader reads the sample API's /request",
        "subjects": [client["client_id"]],
        "actions": ["read"],
        "effect": "allow",
        "resources": ["abcdef123/test:/request", "<[a-z0-9]+>/test:/my/path"],
    }
    with server.admin_client() as admin:
        assert admin.post("/admin/policies", json=policy).status_code == 201
    return client


@pytest.fixture(scope="module")
def read_token(server: AuthgateServer, reader: dict[str, Any]) -> str:
    return str(client_token(server, reader, scope="orders:read")["access_token"])


def ask(public: httpx.Client, caller: str | None, event: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {caller}"} if caller is not None else {}
    return public.post(PATH, json=event, headers=headers)


def answered(public: httpx.Client, caller: str, event: dict[str, Any]) -> dict[str, Any]:
    answer = ask(public, caller, event)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found: dict[str, Any] = answer.json()
    return found


def statement(answer: dict[str, Any]) -> dict[str, Any]:
    document = answer["policyDocument"]
    assert document["Version"] == "2012-10-17"
    [only] = document["Statement"]
    assert only["Action"] == "execute-api:Invoke"
    found: dict[str, Any] = only
    return found


def unauthenticated(answer: httpx.Response) -> str:
    """The reason_id of an "Unauthorized" answer (the event's token, not the caller's)."""
    assert answer.status_code == 401, answer.text
    assert "www-authenticate" not in answer.headers
    body = answer.json()
    assert (body["error"], body["message"]) == ("unauthenticated", "Unauthorized")
    return str(body["reason_id"])


def forged_none(token: str) -> str:
    """The token's claims under `alg: none`, without a signature."""
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    return f"{header.decode().rstrip('=')}.{token.split('.')[1]}."


def tampered(token: str) -> str:
    """The token with one more scope written into its claims; the signature unchanged."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = claims["scope"] + " orders:write"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{head}.{body}.{signature}"


# -- REST API TOKEN events ----------------------------------------------------------------


def test_a_token_event_with_an_allowed_token_gets_an_allow_on_its_method_arn(
    public: httpx.Client, caller: str, read_token: str, reader: dict[str, Any]
) -> None:
    answer = answered(public, caller, token_event(f"Bearer {read_token}", SAMPLE_ARN))
    assert statement(answer) == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": SAMPLE_ARN,
    }
    assert answer["principalId"] == reader["client_id"]
    assert answer["context"] == {
        "sub": reader["client_id"],
        "username": "",
        "client_id": reader["client_id"],
        "groups": "",
        "scopes": "orders:read",
    }


def test_a_token_event_takes_a_bare_token(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    answer = answered(public, caller, token_event(read_token, SAMPLE_ARN))
    assert statement(answer)["Effect"] == "Allow"


def test_a_token_event_denied_by_require_gets_an_explicit_deny(
    server: AuthgateServer, public: httpx.Client, caller: str
) -> None:
    writer = machine(server, scope="orders:write")
    token = client_token(server, writer, scope="orders:write")["access_token"]
    answer = answered(public, caller, token_event(f"Bearer {token}", SAMPLE_ARN))
    assert statement(answer)["Effect"] == "Deny"
    assert statement(answer)["Resource"] == SAMPLE_ARN
    assert answer["context"]["reason"] == "scope_missing"


def test_a_token_event_denied_by_policy_gets_an_explicit_deny(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    answer = answered(public, caller, token_event(f"Bearer {read_token}", POST_ARN))
    assert statement(answer) == {
        "Action": "execute-api:Invoke",
        "Effect": "Deny",
        "Resource": POST_ARN,
    }
    assert answer["context"]["reason"] == "policy_denied"


def test_the_documented_token_sample_is_unauthorized(public: httpx.Client, caller: str) -> None:
    # Its authorizationToken is the word "allow": no token of ours.
    assert unauthenticated(ask(public, caller, token_event("allow"))) == "invalid_token"


def test_a_token_event_without_a_token_is_unauthorized(public: httpx.Client, caller: str) -> None:
    assert unauthenticated(ask(public, caller, token_event(None))) == "missing_token"


def test_another_scheme_is_no_token(public: httpx.Client, caller: str, read_token: str) -> None:
    answer = ask(public, caller, token_event(f"Basic {read_token}"))
    assert unauthenticated(answer) == "missing_token"


def test_an_expired_token_is_unauthorized(
    server: AuthgateServer, public: httpx.Client, caller: str
) -> None:
    fleeting = machine(server, scope="orders:read", access_token_ttl=1)
    token = client_token(server, fleeting, scope="orders:read")["access_token"]
    time.sleep(2.1)
    answer = ask(public, caller, token_event(f"Bearer {token}", SAMPLE_ARN))
    assert unauthenticated(answer) == "invalid_token"


def test_a_token_under_alg_none_is_unauthorized(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    answer = ask(public, caller, token_event(f"Bearer {forged_none(read_token)}", SAMPLE_ARN))
    assert unauthenticated(answer) == "invalid_token"


def test_a_token_with_tampered_claims_is_unauthorized(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    answer = ask(public, caller, token_event(f"Bearer {tampered(read_token)}", SAMPLE_ARN))
    assert unauthenticated(answer) == "invalid_token"


def test_a_revoked_token_is_unauthorized_at_once(
    server: AuthgateServer, public: httpx.Client, caller: str, reader: dict[str, Any]
) -> None:
    token = client_token(server, reader, scope="orders:read")["access_token"]
    event = token_event(f"Bearer {token}", SAMPLE_ARN)
    assert statement(answered(public, caller, event))["Effect"] == "Allow"
    assert post_form(server, "/oauth2/revoke", reader, token=token).status_code == 200
    assert unauthenticated(ask(public, caller, event)) == "invalid_token"


def test_an_opaque_token_is_checked_by_introspection(
    server: AuthgateServer, public: httpx.Client, caller: str
) -> None:
    opaque = machine(server, scope="orders:read", access_token_format="opaque")
    token = client_token(server, opaque, scope="orders:read")["access_token"]
    answer = answered(public, caller, token_event(f"Bearer {token}", SAMPLE_ARN))
    # Allowed by require; the policy names only the reader, so: Deny, for the policy.
    assert answer["context"]["reason"] == "policy_denied"
    assert answer["context"]["sub"] == opaque["client_id"]


# -- REST API REQUEST events (payload 1.0) -------------------------------------------------


def test_a_request_event_with_an_allowed_token_gets_an_allow(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    answer = answered(public, caller, request_event(f"Bearer {read_token}"))
    assert statement(answer)["Effect"] == "Allow"
    assert statement(answer)["Resource"] == SAMPLE_ARN


def test_a_request_event_denied_by_policy_gets_a_deny(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    answer = answered(public, caller, request_event(f"Bearer {read_token}", POST_ARN))
    assert statement(answer)["Effect"] == "Deny"


def test_a_user_token_lacking_the_scope_is_denied_with_its_identity_in_the_context(
    server: AuthgateServer, public: httpx.Client, caller: str
) -> None:
    email, sub = person(server)
    with server.admin_client() as admin:
        for group in ("aws-readers", "aws-writers"):
            admin.post("/admin/groups", json={"name": group})
            assert admin.put(f"/admin/groups/{group}/members/{sub}").status_code == 204
    login = public.post("/v1/login", json={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    answer = answered(public, caller, request_event(f"Bearer {login.json()['access_token']}"))
    assert statement(answer)["Effect"] == "Deny"
    assert answer["principalId"] == sub
    assert answer["context"]["username"] == email
    assert sorted(answer["context"]["groups"].split(",")) == ["aws-readers", "aws-writers"]
    assert answer["context"]["reason"] == "scope_missing"
    assert all(isinstance(value, str) for value in answer["context"].values())


def test_a_request_event_without_authorization_is_unauthorized(
    public: httpx.Client, caller: str
) -> None:
    assert unauthenticated(ask(public, caller, request_event(None))) == "missing_token"


def test_two_authorization_values_are_unauthorized(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    event = request_event(f"Bearer {read_token}")
    event["multiValueHeaders"]["Authorization"].append("Bearer other")
    assert unauthenticated(ask(public, caller, event)) == "repeated_token"


# -- HTTP API payload 2.0 ------------------------------------------------------------------


def test_a_v2_event_with_an_allowed_token_gets_the_simple_answer(
    public: httpx.Client, caller: str, read_token: str, reader: dict[str, Any]
) -> None:
    answer = answered(public, caller, http_api_event(f"Bearer {read_token}"))
    assert answer["isAuthorized"] is True
    assert answer["context"]["sub"] == reader["client_id"]
    assert set(answer) == {"isAuthorized", "context"}


def test_a_v2_event_denied_by_policy_is_not_authorized(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/DELETE/request"
    answer = answered(public, caller, http_api_event(f"Bearer {read_token}", arn))
    assert answer["isAuthorized"] is False
    assert answer["context"]["reason"] == "policy_denied"


def test_a_v2_default_route_is_decided_on_the_events_method_and_raw_path(
    public: httpx.Client, caller: str, read_token: str
) -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/$default"
    event = http_api_event(f"Bearer {read_token}", arn)
    event["requestContext"]["http"]["method"] = "GET"
    assert answered(public, caller, event)["isAuthorized"] is True
    event["requestContext"]["http"]["method"] = "POST"
    assert answered(public, caller, event)["isAuthorized"] is False


def test_the_documented_v2_sample_without_a_token_is_unauthorized(
    public: httpx.Client, caller: str
) -> None:
    assert unauthenticated(ask(public, caller, http_api_event(None))) == "missing_token"


def test_a_v2_event_with_a_revoked_token_is_unauthorized(
    server: AuthgateServer, public: httpx.Client, caller: str, reader: dict[str, Any]
) -> None:
    token = client_token(server, reader, scope="orders:read")["access_token"]
    assert post_form(server, "/oauth2/revoke", reader, token=token).status_code == 200
    assert unauthenticated(ask(public, caller, http_api_event(f"Bearer {token}"))) == (
        "invalid_token"
    )


# -- the caller and the event --------------------------------------------------------------


def test_a_caller_without_a_token_is_401_before_the_event_is_read(public: httpx.Client) -> None:
    answer = ask(public, None, {"not": "an event"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_caller_token_without_the_decide_scope_is_403(
    public: httpx.Client, read_token: str
) -> None:
    answer = ask(public, read_token, token_event(f"Bearer {read_token}", SAMPLE_ARN))
    assert answer.status_code == 403
    assert answer.json()["error"] == "insufficient_scope"


def test_a_user_token_is_no_caller(server: AuthgateServer, public: httpx.Client) -> None:
    email, _ = person(server)
    login = public.post("/v1/login", json={"username": email, "password": PASSWORD})
    answer = ask(public, login.json()["access_token"], token_event("x", SAMPLE_ARN))
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "COGNITO_USER_POOLS"}, "bad_type"),
        ({"type": "TOKEN", "authorizationToken": "x"}, "bad_field"),
        ({"type": "TOKEN", "authorizationToken": "x", "methodArn": "arn:aws:s3:::b"}, "bad_arn"),
        ({"version": "2.0", "type": "REQUEST", "routeArn": "x"}, "bad_arn"),
        ({"version": "9", "type": "REQUEST"}, "bad_version"),
    ],
)
def test_a_malformed_event_is_400_with_a_code(
    public: httpx.Client, caller: str, event: dict[str, Any], reason: str
) -> None:
    answer = ask(public, caller, event)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_event"
    assert answer.json()["reason_id"] == reason


def test_a_body_that_is_not_json_is_400(public: httpx.Client, caller: str) -> None:
    answer = public.post(
        PATH,
        content=b"{not json",
        headers={"Authorization": f"Bearer {caller}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400


def test_no_token_of_an_event_is_logged(server: AuthgateServer, read_token: str) -> None:
    assert read_token not in json.dumps(server.log_records())


# -- a cacheable answer: the stage's wildcard, and IAM answers for payload 2.0 ---------------


@pytest.fixture(scope="module")
def cached(make_server: ServerFactory) -> AuthgateServer:
    settings = {
        "require": {"scopes_any": ["orders:read"]},
        "resource": "wildcard",
        "http_api_response": "iam",
    }
    return make_server(oauth={"scopes": RESOURCE_SCOPES}, aws_authorizer=settings)


@pytest.fixture(scope="module")
def cached_tokens(cached: AuthgateServer) -> tuple[str, str]:
    """(the caller's token, a reader's token) on the wildcard server."""
    service = machine(cached, scope="authgate:decide")
    caller = client_token(cached, service, scope="authgate:decide")["access_token"]
    reader = machine(cached, scope="orders:read")
    return caller, client_token(cached, reader, scope="orders:read")["access_token"]


def test_a_wildcard_answer_covers_the_events_whole_stage(
    cached: AuthgateServer, cached_tokens: tuple[str, str]
) -> None:
    caller, token = cached_tokens
    arn = "arn:aws-cn:execute-api:cn-north-1:123456789012:abcdef123/prod/GET/orders/42"
    with cached.public_client() as public:
        answer = answered(public, caller, token_event(f"Bearer {token}", arn))
    assert statement(answer)["Resource"] == (
        "arn:aws-cn:execute-api:cn-north-1:123456789012:abcdef123/prod/*/*"
    )
    assert statement(answer)["Effect"] == "Allow"


def test_a_v2_event_gets_an_iam_policy_when_configured(
    cached: AuthgateServer, cached_tokens: tuple[str, str]
) -> None:
    caller, token = cached_tokens
    with cached.public_client() as public:
        answer = answered(public, caller, http_api_event(f"Bearer {token}"))
    assert statement(answer) == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*/*",
    }


@pytest.mark.parametrize(
    "credential", ["Bearer a\x01b", "Bearer " + "x" * 20_000, "Bearer a b", "Bearer é"]
)
def test_a_malformed_token_is_unauthorized_never_a_bad_event(
    public: httpx.Client, caller: str, credential: str
) -> None:
    assert unauthenticated(ask(public, caller, token_event(credential, SAMPLE_ARN))) == (
        "invalid_token"
    )


def test_without_the_section_the_endpoint_is_not_configured(make_server: ServerFactory) -> None:
    bare = make_server()
    with bare.public_client() as public:
        answer = ask(public, bare.admin_token, token_event("Bearer x", SAMPLE_ARN))
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_configured"


@pytest.mark.parametrize(
    ("credential", "arn", "outcome"),
    [
        ("read", SAMPLE_ARN, "allow"),
        ("read", POST_ARN, "deny"),
        ("none", SAMPLE_ARN, "unauthenticated"),
    ],
)
def test_each_answer_is_counted_by_its_outcome(
    server: AuthgateServer,
    public: httpx.Client,
    caller: str,
    read_token: str,
    credential: str,
    arn: str,
    outcome: str,
) -> None:
    event = token_event(f"Bearer {read_token}" if credential == "read" else None, arn)
    grew = moved(
        server,
        lambda: ask(public, caller, event),
        "authgate_aws_authorizer_answers_total",
        outcome=outcome,
    )
    assert grew == 1
