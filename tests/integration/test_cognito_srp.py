"""USER_SRP_AUTH and NEW_PASSWORD_REQUIRED against a real server, on SQLite and PostgreSQL,
driven by pycognito's AWSSRP (the SRP client of many Cognito users) over boto3's real
`cognito-idp` client on loopback."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pycognito.aws_srp import AWSSRP

from tests.integration.cognito_support import (
    NEW_PASSWORD,
    PASSWORD,
    WRONG_PASSWORD,
    cognito,
    new_client,
    secret_hash,
)
from tests.integration.cognito_support import no_real_aws as no_real_aws
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer

POOL_ID = "us-east-1_authgate"


@pytest.fixture(scope="module")
def app(server: AuthgateServer) -> str:
    return new_client(server, secret=False)[0]


def create_user(server: AuthgateServer, password: str = PASSWORD, **fields: Any) -> str:
    """A confirmed user made through the admin API; returns the username (the email)."""
    return _create(server, password, **fields)[0]


def _create(server: AuthgateServer, password: str, **fields: Any) -> tuple[str, str]:
    email = unique_email("srp")
    with server.admin_client() as admin:
        created = admin.post("/admin/users", json={"email": email, "password": password, **fields})
    assert created.status_code == 201, created.text
    return email, str(created.json()["sub"])


def invite(server: AuthgateServer, temporary: str = PASSWORD, **fields: Any) -> tuple[str, str]:
    """A user who must choose a password (status force_change_password): (username, sub)."""
    email, sub = _create(server, NEW_PASSWORD, **fields)
    with server.admin_client() as admin:
        changed = admin.put(
            f"/admin/users/{sub}/password", json={"password": temporary, "permanent": False}
        )
    assert changed.status_code == 200, changed.text
    return email, sub


def srp(
    server: AuthgateServer, client_id: str, username: str, password: str = PASSWORD, **kw: Any
) -> AWSSRP:
    return AWSSRP(username, password, POOL_ID, client_id, client=cognito(server), **kw)


def test_pycognito_signs_in_by_srp(server: AuthgateServer, app: str) -> None:
    username = create_user(server)

    tokens = srp(server, app, username).authenticate_user()["AuthenticationResult"]

    assert tokens["TokenType"] == "Bearer" and tokens["RefreshToken"]
    user = cognito(server).get_user(AccessToken=tokens["AccessToken"])
    assert user["Username"] == username


def test_srp_token_works_at_v1_me(server: AuthgateServer, app: str) -> None:
    username = create_user(server)
    tokens = srp(server, app, username).authenticate_user()["AuthenticationResult"]

    with server.public_client() as client:
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['AccessToken']}"})

    assert me.status_code == 200, me.text


def test_srp_with_a_client_secret(server: AuthgateServer) -> None:
    client_id, client_secret = new_client(server, secret=True)
    username = create_user(server)

    answer = srp(server, client_id, username, client_secret=client_secret).authenticate_user()

    assert answer["AuthenticationResult"]["AccessToken"]


def test_srp_without_the_secret_hash_is_refused(server: AuthgateServer) -> None:
    client_id, _ = new_client(server, secret=True)
    username = create_user(server)
    client = cognito(server)

    with pytest.raises(client.exceptions.NotAuthorizedException) as caught:
        srp(server, client_id, username).authenticate_user()

    assert "Unable to verify secret hash" in caught.value.response["Error"]["Message"]


def test_wrong_password_through_srp_is_not_authorized(server: AuthgateServer, app: str) -> None:
    username = create_user(server)
    client = cognito(server)

    with pytest.raises(client.exceptions.NotAuthorizedException) as caught:
        srp(server, app, username, WRONG_PASSWORD).authenticate_user()

    assert caught.value.response["Error"]["Message"] == "Incorrect username or password."


def test_unknown_user_through_srp_answers_like_a_wrong_password(
    server: AuthgateServer, app: str
) -> None:
    client = cognito(server)
    first = client.initiate_auth(
        ClientId=app,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters=srp(server, app, "nobody@example.com").get_auth_params(),
    )
    assert first["ChallengeName"] == "PASSWORD_VERIFIER"

    with pytest.raises(client.exceptions.NotAuthorizedException) as caught:
        srp(server, app, "nobody@example.com").authenticate_user()

    assert caught.value.response["Error"]["Message"] == "Incorrect username or password."


def test_replayed_password_verifier_is_refused(server: AuthgateServer, app: str) -> None:
    username = create_user(server)
    client = cognito(server)
    aws = srp(server, app, username)
    parameters = aws.get_auth_params()
    challenge = client.initiate_auth(
        ClientId=app, AuthFlow="USER_SRP_AUTH", AuthParameters=parameters
    )
    answers = aws.process_challenge(challenge["ChallengeParameters"], parameters)
    client.respond_to_auth_challenge(
        ClientId=app, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answers
    )

    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.respond_to_auth_challenge(
            ClientId=app, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answers
        )


def test_srp_a_of_zero_mod_n_is_refused(server: AuthgateServer, app: str) -> None:
    client = cognito(server)
    n = srp(server, app, "x").big_n

    with pytest.raises(client.exceptions.InvalidParameterException):
        client.initiate_auth(
            ClientId=app,
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": "someone", "SRP_A": f"{n:x}"},
        )


def test_srp_works_after_a_password_reset(server: AuthgateServer, app: str) -> None:
    username = create_user(server)
    client = cognito(server)
    client.forgot_password(ClientId=app, Username=username)
    code = server.wait_for_mail(username).code
    client.confirm_forgot_password(
        ClientId=app, Username=username, ConfirmationCode=code, Password=NEW_PASSWORD
    )

    tokens = srp(server, app, username, NEW_PASSWORD).authenticate_user()

    assert tokens["AuthenticationResult"]["AccessToken"]
    with pytest.raises(client.exceptions.NotAuthorizedException):
        srp(server, app, username, PASSWORD).authenticate_user()


def test_srp_works_after_sign_up(server: AuthgateServer, app: str) -> None:
    client = cognito(server)
    username = unique_email("srp-signup")
    client.sign_up(ClientId=app, Username=username, Password=PASSWORD)
    code = server.wait_for_mail(username).code
    client.confirm_sign_up(ClientId=app, Username=username, ConfirmationCode=code)

    assert srp(server, app, username).authenticate_user()["AuthenticationResult"]


def test_srp_works_after_change_password(server: AuthgateServer, app: str) -> None:
    username = create_user(server)
    client = cognito(server)
    tokens = srp(server, app, username).authenticate_user()["AuthenticationResult"]
    client.change_password(
        PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD, AccessToken=tokens["AccessToken"]
    )

    assert srp(server, app, username, NEW_PASSWORD).authenticate_user()["AuthenticationResult"]


# -- NEW_PASSWORD_REQUIRED -------------------------------------------------------------


def test_pycognito_answers_new_password_required(server: AuthgateServer, app: str) -> None:
    username, _ = invite(server)

    answer = srp(server, app, username).set_new_password_challenge(NEW_PASSWORD)

    assert answer["AuthenticationResult"]["AccessToken"]
    assert srp(server, app, username, NEW_PASSWORD).authenticate_user()["AuthenticationResult"]


def test_invited_user_gets_new_password_required_from_password_auth(
    server: AuthgateServer, app: str
) -> None:
    username, _ = invite(server)
    client = cognito(server)

    challenge = client.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert json.loads(challenge["ChallengeParameters"]["userAttributes"])["email"] == username
    answer = client.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": NEW_PASSWORD},
    )

    assert answer["AuthenticationResult"]["IdToken"]
    user = client.get_user(AccessToken=answer["AuthenticationResult"]["AccessToken"])
    assert user["Username"] == username


def _new_password_session(server: AuthgateServer, app: str, username: str) -> str:
    challenge = cognito(server).initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return str(challenge["Session"])


def test_new_password_session_works_once(server: AuthgateServer, app: str) -> None:
    username, _ = invite(server)
    session = _new_password_session(server, app, username)
    client = cognito(server)
    responses = {"USERNAME": username, "NEW_PASSWORD": NEW_PASSWORD}
    client.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=session,
        ChallengeResponses=responses,
    )

    with pytest.raises(client.exceptions.NotAuthorizedException) as caught:
        client.respond_to_auth_challenge(
            ClientId=app,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=session,
            ChallengeResponses=responses,
        )

    assert "Invalid session" in caught.value.response["Error"]["Message"]


def test_new_password_session_of_another_client_is_refused(
    server: AuthgateServer, app: str
) -> None:
    username, _ = invite(server)
    session = _new_password_session(server, app, username)
    other = new_client(server, secret=False)[0]
    client = cognito(server)

    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.respond_to_auth_challenge(
            ClientId=other,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=session,
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": NEW_PASSWORD},
        )


def test_weak_new_password_can_be_corrected_in_the_same_session(
    server: AuthgateServer, app: str
) -> None:
    username, _ = invite(server)
    session = _new_password_session(server, app, username)
    client = cognito(server)

    with pytest.raises(client.exceptions.InvalidPasswordException):
        client.respond_to_auth_challenge(
            ClientId=app,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=session,
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": "short"},
        )
    answer = client.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=session,
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": NEW_PASSWORD},
    )

    assert answer["AuthenticationResult"]["AccessToken"]


def test_new_password_required_with_a_client_secret(server: AuthgateServer) -> None:
    client_id, client_secret = new_client(server, secret=True)
    username, _ = invite(server)
    client = cognito(server)
    hashed = secret_hash(client_id, client_secret, username)
    challenge = client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD, "SECRET_HASH": hashed},
    )

    answer = client.respond_to_auth_challenge(
        ClientId=client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={
            "USERNAME": username,
            "NEW_PASSWORD": NEW_PASSWORD,
            "SECRET_HASH": hashed,
        },
    )

    assert answer["AuthenticationResult"]["AccessToken"]


def test_unknown_challenge_name_is_an_invalid_parameter(server: AuthgateServer, app: str) -> None:
    client = cognito(server)

    with pytest.raises(client.exceptions.InvalidParameterException):
        client.respond_to_auth_challenge(
            ClientId=app, ChallengeName="CUSTOM_CHALLENGE", ChallengeResponses={"USERNAME": "x"}
        )


def test_unsigned_admin_respond_to_auth_challenge_is_refused(
    server: AuthgateServer, app: str
) -> None:
    body = {
        "UserPoolId": POOL_ID,
        "ClientId": app,
        "ChallengeName": "NEW_PASSWORD_REQUIRED",
        "ChallengeResponses": {"USERNAME": "x", "NEW_PASSWORD": NEW_PASSWORD},
    }
    with server.public_client() as client:
        response = client.post(
            "/cognito/",
            content=json.dumps(body),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "AWSCognitoIdentityProviderService.AdminRespondToAuthChallenge",
            },
        )

    assert response.status_code in (400, 403)
    assert response.json()["__type"] in (
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
        "InvalidSignatureException",
        "AccessDeniedException",
    )


# -- with a pool that names required attributes, or reveals unknown users ---------------


@pytest.fixture(scope="module")
def strict(make_server: ServerFactory) -> AuthgateServer:
    return make_server(cognito={"prevent_user_existence_errors": False})


def test_new_password_required_asks_for_missing_required_attributes(
    make_server: ServerFactory,
) -> None:
    pool = make_server()
    app = new_client(pool, secret=False)[0]
    username, _ = invite(pool)
    pool.stop()  # the pool starts requiring `name`: the invited user lacks it
    pool.overrides = {"user_pool": {"required_attributes": ["name"]}}
    pool.start()
    client = cognito(pool)
    challenge = client.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    required = json.loads(challenge["ChallengeParameters"]["requiredAttributes"])
    assert required == ["userAttributes.name"]

    with pytest.raises(client.exceptions.InvalidParameterException):
        client.respond_to_auth_challenge(
            ClientId=app,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": NEW_PASSWORD},
        )
    answer = client.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={
            "USERNAME": username,
            "NEW_PASSWORD": NEW_PASSWORD,
            "userAttributes.name": "Grace Hopper",
        },
    )
    user = client.get_user(AccessToken=answer["AuthenticationResult"]["AccessToken"])
    assert {"Name": "name", "Value": "Grace Hopper"} in user["UserAttributes"]


def test_unknown_user_through_srp_is_user_not_found_where_the_pool_reveals_it(
    strict: AuthgateServer,
) -> None:
    app = new_client(strict, secret=False)[0]
    client = cognito(strict)

    with pytest.raises(client.exceptions.UserNotFoundException):
        srp(strict, app, "nobody@example.com").authenticate_user()


def test_http_status_of_a_refused_srp_claim_is_400(server: AuthgateServer, app: str) -> None:
    body = {
        "ClientId": app,
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeResponses": {
            "USERNAME": "someone",
            "PASSWORD_CLAIM_SECRET_BLOCK": "AAAA",
            "PASSWORD_CLAIM_SIGNATURE": "AAAA",
            "TIMESTAMP": "Tue Oct 6 01:02:03 UTC 2026",
        },
    }
    response = httpx.post(
        f"{server.public}/cognito/",
        content=json.dumps(body),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.RespondToAuthChallenge",
        },
    )

    assert response.status_code == 400
    assert response.json()["__type"] == "NotAuthorizedException"
