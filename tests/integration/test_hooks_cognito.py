"""`hooks.format: cognito`: every hook reaches an unchanged Lambda-style trigger through
examples/hooks/cognito_lambda_shim.py (which verifies the signature), over Cognito's
own API (boto3) and authgate's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.cognito_support import cognito, new_client
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer, free_port
from tests.integration.hook_receiver import new_secret
from tests.integration.hooks_lambda import LEGACY_PASSWORD
from tests.integration.test_login import claims_of, create_user

PASSWORD = "lemon tree 4 harbour"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(url, secret, log file) of a running shim around tests/integration/hooks_lambda.py."""
    secret, port = new_secret(), free_port()
    log = tmp_path_factory.mktemp("lambda") / "events.jsonl"
    log.touch()
    env = {**os.environ, "HOOK_SECRET": secret, "HOOKS_LAMBDA_LOG": str(log)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "examples.hooks.cognito_lambda_shim",
            "--listen",
            f"127.0.0.1:{port}",
            "--handler",
            "tests.integration.hooks_lambda.handler",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(url, content=b"{}", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url, secret, log
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def pool(make_server: ServerFactory, shim: tuple[str, str, Path]) -> AuthgateServer:
    url, secret, _ = shim
    names = (
        "pre_signup",
        "post_confirmation",
        "pre_token",
        "user_migration",
        "custom_message",
        "post_authentication",
    )
    hooks: dict[str, Any] = {
        name: {"url": url, "secret": secret, "timeout": 2, "on_error": "deny"} for name in names
    }
    return make_server(hooks={**hooks, "format": "cognito", "retry_backoff": 0.05})


@pytest.fixture(scope="module")
def idp(pool: AuthgateServer) -> Any:
    return cognito(pool)


@pytest.fixture(scope="module")
def app(pool: AuthgateServer) -> str:
    return new_client(pool, secret=False)[0]


def events(log: Path, source: str, username: str, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        lines = log.read_text(encoding="utf-8").splitlines()
        found = [json.loads(line) for line in lines]
        found = [e for e in found if e["triggerSource"] == source and e["userName"] == username]
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{count} {source} events for {username} expected, got {len(found)}")


def test_pre_signup_gets_cognitos_event_with_validation_data(
    idp: Any, app: str, shim: tuple[str, str, Path]
) -> None:
    email = unique_email("cog")
    idp.sign_up(
        ClientId=app,
        Username=email,
        Password=PASSWORD,
        ValidationData=[{"Name": "source", "Value": "ads"}],
        ClientMetadata={"campaign": "spring"},
    )

    (event,) = events(shim[2], "PreSignUp_SignUp", email)
    assert event["version"] == "1"
    assert event["region"] == "us-east-1"
    assert event["userPoolId"]
    assert event["callerContext"]["clientId"] == app
    assert event["request"]["userAttributes"]["email"] == email
    assert event["request"]["validationData"] == {"source": "ads"}
    assert event["request"]["clientMetadata"] == {"campaign": "spring"}
    assert PASSWORD not in json.dumps(event)


def test_a_trigger_that_raises_refuses_the_sign_up(
    idp: Any, app: str, pool: AuthgateServer
) -> None:
    with pytest.raises(idp.exceptions.UserLambdaValidationException) as refused:
        idp.sign_up(ClientId=app, Username="someone@blocked.example", Password=PASSWORD)

    assert "blocked.example are closed" in str(refused.value)
    with pool.public_client() as client:
        rest = client.post(
            "/v1/signup", json={"email": "other@blocked.example", "password": PASSWORD}
        )
    assert rest.status_code == 400
    assert rest.json() == {
        "error": "signup_refused",
        "message": "Sign-ups from blocked.example are closed.",
    }


def test_auto_confirm_from_the_trigger_confirms_the_user(idp: Any, app: str) -> None:
    email = unique_email("invited")

    answer = idp.sign_up(
        ClientId=app,
        Username=email,
        Password=PASSWORD,
        ValidationData=[{"Name": "invite", "Value": "yes"}],
    )

    assert answer["UserConfirmed"] is True


def test_custom_message_and_post_confirmation_follow_a_sign_up(
    idp: Any, app: str, pool: AuthgateServer, shim: tuple[str, str, Path]
) -> None:
    email = unique_email("worded")
    idp.sign_up(ClientId=app, Username=email, Password=PASSWORD)

    mail = pool.wait_for_mail(email)
    assert mail.subject == "Welcome from the Lambda"
    assert mail.code is not None
    (message,) = events(shim[2], "CustomMessage_SignUp", email)
    assert message["request"]["codeParameter"] == "{####}"
    idp.confirm_sign_up(ClientId=app, Username=email, ConfirmationCode=mail.code)
    (confirmed,) = events(shim[2], "PostConfirmation_ConfirmSignUp", email)
    assert confirmed["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"


def test_token_generation_overrides_claims_and_groups_but_not_reserved_ones(
    idp: Any, app: str, pool: AuthgateServer, shim: tuple[str, str, Path]
) -> None:
    email = unique_email("tokens")
    create_user(pool, email)

    result = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]

    id_token = claims_of(result["IdToken"])
    assert id_token["tenant"] == "acme"
    assert id_token["iss"] == pool.public
    assert "email" not in id_token
    assert id_token["cognito:groups"] == ["lambda-group"]
    (event,) = events(shim[2], "TokenGeneration_Authentication", email)
    assert event["request"]["groupConfiguration"]["groupsToOverride"] == []
    events(shim[2], "PostAuthentication_Authentication", email)


def test_user_migration_moves_a_legacy_user_on_sign_in(
    idp: Any, app: str, shim: tuple[str, str, Path]
) -> None:
    email = f"old-{time.monotonic_ns()}@legacy.example"

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": "not the legacy one 9"},
        )
    result = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": LEGACY_PASSWORD},
        ClientMetadata={"app_version": "2.1"},
    )

    assert "AccessToken" in result["AuthenticationResult"]
    migrations = events(shim[2], "UserMigration_Authentication", email, count=2)
    assert migrations[1]["request"]["password"] == LEGACY_PASSWORD
    assert migrations[1]["request"]["clientMetadata"] == {"app_version": "2.1"}
    assert migrations[1]["callerContext"]["clientId"] == app
