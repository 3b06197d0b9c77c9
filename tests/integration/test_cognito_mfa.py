"""TOTP through Cognito's operations, on SQLite and PostgreSQL: the SOFTWARE_TOKEN_MFA
challenge after SRP or a typed password, enrolment by AssociateSoftwareToken and
VerifySoftwareToken (with an AccessToken, and with the MFA_SETUP challenge's Session),
SetUserMFAPreference. Codes come from pyotp for the server's real clock (mfa_support)."""

from __future__ import annotations

from typing import Any

import pytest
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import SoftwareTokenMFAChallengeException

from tests.integration.cognito_support import PASSWORD, cognito, new_client
from tests.integration.cognito_support import no_real_aws as no_real_aws
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.mfa_support import code, create_user, enrolled, steady

POOL_ID = "us-east-1_authgate"


@pytest.fixture(scope="module")
def app(server: AuthgateServer) -> str:
    return new_client(server, secret=False)[0]


def srp_challenge(server: AuthgateServer, app: str, username: str) -> dict[str, Any]:
    """The answer of an SRP sign-in that stops at a challenge after PASSWORD_VERIFIER."""
    aws = AWSSRP(username, PASSWORD, POOL_ID, app, client=cognito(server))
    with pytest.raises(SoftwareTokenMFAChallengeException) as caught:
        aws.authenticate_user()
    tokens: dict[str, Any] = caught.value.get_tokens()
    return tokens


def answer_totp(server: AuthgateServer, app: str, username: str, session: str, totp: str) -> Any:
    return cognito(server).respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=session,
        ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": totp},
    )


def test_srp_sign_in_of_a_totp_user_asks_for_a_code(server: AuthgateServer, app: str) -> None:
    user = enrolled(server)

    challenge = srp_challenge(server, app, user.email)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    answer = answer_totp(server, app, user.email, challenge["Session"], code(user.secret, steady()))

    tokens = answer["AuthenticationResult"]
    assert cognito(server).get_user(AccessToken=tokens["AccessToken"])["Username"] == user.email


def test_wrong_totp_code_is_a_code_mismatch(server: AuthgateServer, app: str) -> None:
    user = enrolled(server)
    challenge = srp_challenge(server, app, user.email)
    client = cognito(server)
    wrong = code(user.secret, steady() + 5)

    with pytest.raises(client.exceptions.CodeMismatchException):
        answer_totp(server, app, user.email, challenge["Session"], wrong)


def test_totp_session_of_another_client_is_refused(server: AuthgateServer, app: str) -> None:
    user = enrolled(server)
    challenge = srp_challenge(server, app, user.email)
    other = new_client(server, secret=False)[0]
    client = cognito(server)

    with pytest.raises(client.exceptions.NotAuthorizedException):
        answer_totp(server, other, user.email, challenge["Session"], code(user.secret, steady()))


def test_totp_session_works_once(server: AuthgateServer, app: str) -> None:
    user = enrolled(server)
    challenge = srp_challenge(server, app, user.email)
    step = steady()
    answer_totp(server, app, user.email, challenge["Session"], code(user.secret, step))
    client = cognito(server)

    with pytest.raises(client.exceptions.NotAuthorizedException):
        answer_totp(server, app, user.email, challenge["Session"], code(user.secret, step + 1))


def test_enrolment_by_associate_and_verify_software_token(server: AuthgateServer, app: str) -> None:
    email, _ = create_user(server, "cognito-mfa")
    client = cognito(server)
    signed_in = client.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    access = signed_in["AuthenticationResult"]["AccessToken"]
    secret = client.associate_software_token(AccessToken=access)["SecretCode"]
    step = steady()
    verified = client.verify_software_token(
        AccessToken=access, UserCode=code(secret, step - 1), FriendlyDeviceName="phone"
    )
    assert verified["Status"] == "SUCCESS"
    client.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )

    challenge = client.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    answer = answer_totp(server, app, email, challenge["Session"], code(secret, step))
    assert answer["AuthenticationResult"]["AccessToken"]


def test_wrong_code_at_verify_software_token_is_refused(server: AuthgateServer, app: str) -> None:
    email, _ = create_user(server, "cognito-mfa")
    client = cognito(server)
    signed_in = client.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    access = signed_in["AuthenticationResult"]["AccessToken"]
    secret = client.associate_software_token(AccessToken=access)["SecretCode"]

    with pytest.raises(client.exceptions.EnableSoftwareTokenMFAException):
        client.verify_software_token(AccessToken=access, UserCode=code(secret, steady() + 5))


def test_preference_for_totp_without_a_factor_is_refused(server: AuthgateServer, app: str) -> None:
    email, _ = create_user(server, "cognito-mfa")
    client = cognito(server)
    access = client.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]

    with pytest.raises(client.exceptions.SoftwareTokenMFANotFoundException):
        client.set_user_mfa_preference(
            AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
        )


def test_turning_totp_off_by_preference_is_refused(server: AuthgateServer) -> None:
    user = enrolled(server)
    client = cognito(server)

    with pytest.raises(client.exceptions.InvalidParameterException):
        client.set_user_mfa_preference(
            AccessToken=user.token,
            SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False},
        )


def test_sms_mfa_preference_is_not_supported(server: AuthgateServer) -> None:
    user = enrolled(server)
    client = cognito(server)

    with pytest.raises(client.exceptions.InvalidParameterException):
        client.set_user_mfa_preference(
            AccessToken=user.token, SMSMfaSettings={"Enabled": True, "PreferredMfa": False}
        )


# -- a pool that requires MFA: MFA_SETUP ------------------------------------------------


@pytest.fixture(scope="module")
def required(make_server: ServerFactory) -> AuthgateServer:
    return make_server(user_pool={"mfa": "required"})


def test_mfa_setup_flow_enrols_and_signs_in(required: AuthgateServer) -> None:
    app = new_client(required, secret=False)[0]
    email, _ = create_user(required, "cognito-setup")
    client = cognito(required)
    aws = AWSSRP(email, PASSWORD, POOL_ID, app, client=client)
    parameters = aws.get_auth_params()
    first = client.initiate_auth(ClientId=app, AuthFlow="USER_SRP_AUTH", AuthParameters=parameters)
    challenge = client.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=aws.process_challenge(first["ChallengeParameters"], parameters),
    )
    assert challenge["ChallengeName"] == "MFA_SETUP"
    assert "SOFTWARE_TOKEN_MFA" in challenge["ChallengeParameters"]["MFAS_CAN_SETUP"]

    associated = client.associate_software_token(Session=challenge["Session"])
    verified = client.verify_software_token(
        Session=associated["Session"], UserCode=code(associated["SecretCode"], steady())
    )
    assert verified["Status"] == "SUCCESS"
    done = client.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="MFA_SETUP",
        Session=verified["Session"],
        ChallengeResponses={"USERNAME": email},
    )

    assert done["AuthenticationResult"]["AccessToken"]
    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.respond_to_auth_challenge(
            ClientId=app,
            ChallengeName="MFA_SETUP",
            Session=verified["Session"],
            ChallengeResponses={"USERNAME": email},
        )
