# ruff: noqa: E501 (the issue's code, kept as written)
"""The issue's boto3 code, verbatim but for `endpoint_url`, against a real server: sign-up,
confirmation, resend, forgotten password, reset and sign-in with a client that has a
secret (every call carries its SecretHash)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import boto3

from tests.integration.cognito_support import NEW_PASSWORD, PASSWORD, new_client
from tests.integration.cognito_support import no_real_aws as no_real_aws
from tests.integration.harness import AuthgateServer


def test_the_issues_boto3_flow_runs_unchanged(server: AuthgateServer) -> None:
    CLIENT_ID, client_secret = new_client(server, secret=True)  # noqa: N806 (the issue's name)

    def get_secret_hash(u: str) -> str:
        return base64.b64encode(
            hmac.new(client_secret.encode(), (u + CLIENT_ID).encode(), hashlib.sha256).digest()
        ).decode()

    email = f"seed-{secrets.token_hex(4)}@example.com"
    password, new = PASSWORD, NEW_PASSWORD
    name, phone = "Ada Lovelace", "+15555550100"

    client = boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=f"{server.public}/cognito")  # fmt: skip
    client.sign_up(ClientId=CLIENT_ID, SecretHash=get_secret_hash(email), Username=email, Password=password,
                   UserAttributes=[{"Name": "name", "Value": name}, {"Name": "email", "Value": email},
                                   {"Name": "phone_number", "Value": phone}],
                   ValidationData=[{"Name": "email", "Value": email}])  # fmt: skip
    code = server.wait_for_mail(email).code
    client.confirm_sign_up(ClientId=CLIENT_ID, SecretHash=get_secret_hash(email), Username=email, ConfirmationCode=code, ForceAliasCreation=False)  # fmt: skip
    client.resend_confirmation_code(ClientId=CLIENT_ID, Username=email, SecretHash=get_secret_hash(email))  # fmt: skip
    client.forgot_password(ClientId=CLIENT_ID, Username=email, SecretHash=get_secret_hash(email))
    code = server.wait_for_mail(email, count=2).code
    client.confirm_forgot_password(ClientId=CLIENT_ID, SecretHash=get_secret_hash(email), Username=email, ConfirmationCode=code, Password=new)  # fmt: skip
    result = client.initiate_auth(ClientId=CLIENT_ID, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": email, "SECRET_HASH": get_secret_hash(email), "PASSWORD": new})  # fmt: skip

    tokens = result["AuthenticationResult"]
    assert tokens["TokenType"] == "Bearer"
    assert tokens["AccessToken"] and tokens["IdToken"] and tokens["RefreshToken"]
    assert tokens["ExpiresIn"] == 3600
    user = client.get_user(AccessToken=tokens["AccessToken"])
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["name"] == name
    assert attributes["phone_number"] == phone
    assert attributes["email"] == email
    assert attributes["email_verified"] == "true"
