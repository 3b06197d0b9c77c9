"""Cognito's administrator operations through boto3 against the real server, SigV4 included."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer

KEY_ID = "AKIAAUTHGATEADMIN001"
SECRET = "admin-secret-" + secrets.token_hex(16)
REGION = "us-east-1"
POOL = "us-east-1_authgate"
CLIENT = "default"
PASSWORD = "Correct-Horse-9-Battery"


@pytest.fixture(scope="module")
def cognito_server(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        cognito={"access_keys": [{"access_key_id": KEY_ID, "secret_access_key": SECRET}]}
    )


def client_for(
    server: AuthgateServer,
    *,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    region: str = REGION,
    unsigned: bool = False,
) -> Any:
    config = Config(retries={"max_attempts": 1}, signature_version=UNSIGNED if unsigned else None)
    return boto3.client(
        "cognito-idp",
        region_name=region,
        endpoint_url=f"{server.public}/cognito",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=config,
    )


@pytest.fixture(scope="module")
def idp(cognito_server: AuthgateServer) -> Any:
    return client_for(cognito_server)


def new_name(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def create(idp: Any, name: str | None = None, **extra: Any) -> str:
    name = name or new_name()
    idp.admin_create_user(
        UserPoolId=POOL,
        Username=name,
        UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}],
        MessageAction="SUPPRESS",
        **extra,
    )
    return name


def confirmed(idp: Any) -> str:
    name = create(idp)
    idp.admin_set_user_password(UserPoolId=POOL, Username=name, Password=PASSWORD, Permanent=True)
    return name


def attributes(answer: dict[str, Any], key: str = "Attributes") -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in answer[key]}


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


# -- SigV4 -------------------------------------------------------------------------------------


def test_a_signed_call_with_a_configured_key_is_served(idp: Any) -> None:
    assert idp.describe_user_pool(UserPoolId=POOL)["UserPool"]["Id"] == POOL


def test_an_unknown_access_key_is_unrecognized(cognito_server: AuthgateServer) -> None:
    stranger = client_for(cognito_server, key_id="AKIASOMEONEELSE00001")
    with pytest.raises(ClientError) as caught:
        stranger.describe_user_pool(UserPoolId=POOL)
    assert error_code(caught) == "UnrecognizedClientException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_wrong_secret_key_is_an_invalid_signature(cognito_server: AuthgateServer) -> None:
    wrong = client_for(cognito_server, secret="not-the-secret")
    with pytest.raises(ClientError) as caught:
        wrong.describe_user_pool(UserPoolId=POOL)
    assert error_code(caught) == "InvalidSignatureException"


def test_another_region_is_an_invalid_signature(cognito_server: AuthgateServer) -> None:
    elsewhere = client_for(cognito_server, region="eu-west-1")
    with pytest.raises(ClientError) as caught:
        elsewhere.describe_user_pool(UserPoolId=POOL)
    assert error_code(caught) == "InvalidSignatureException"


def test_an_old_signature_has_expired(cognito_server: AuthgateServer) -> None:
    idp = client_for(cognito_server)
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=ten_minutes_ago),
        pytest.raises(ClientError) as caught,
    ):
        idp.describe_user_pool(UserPoolId=POOL)
    assert error_code(caught) == "InvalidSignatureException"
    assert "Signature expired" in caught.value.response["Error"]["Message"]


def test_x_amz_target_left_unsigned_is_refused(cognito_server: AuthgateServer) -> None:
    url = f"{cognito_server.public}/cognito"
    body = json.dumps({"UserPoolId": POOL}).encode()
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/x-amz-json-1.1"}
    )
    SigV4Auth(Credentials(KEY_ID, SECRET), "cognito-idp", REGION).add_auth(request)
    headers = dict(request.headers.items())
    headers["X-Amz-Target"] = "AWSCognitoIdentityProviderService.DescribeUserPool"
    response = httpx.post(url, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidSignatureException"
    assert "x-amz-target" in response.json()["message"]


def test_an_unsigned_admin_call_is_refused(cognito_server: AuthgateServer) -> None:
    anonymous = client_for(cognito_server, unsigned=True)
    with pytest.raises(ClientError) as caught:
        anonymous.admin_get_user(UserPoolId=POOL, Username="anyone")
    assert error_code(caught) == "MissingAuthenticationTokenException"


def test_another_user_pool_is_not_found(idp: Any) -> None:
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.admin_get_user(UserPoolId="us-east-1_other", Username="anyone")


# -- users -------------------------------------------------------------------------------------


def test_admin_create_user_makes_a_user_who_must_change_the_password(idp: Any) -> None:
    name = new_name()
    answer = idp.admin_create_user(
        UserPoolId=POOL,
        Username=name,
        TemporaryPassword=PASSWORD,
        UserAttributes=[
            {"Name": "email", "Value": f"{name}@example.com"},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": "Ada"},
        ],
        MessageAction="SUPPRESS",
    )["User"]
    assert answer["Username"] == name
    assert answer["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert answer["Enabled"] is True
    assert isinstance(answer["UserCreateDate"], datetime)
    found = attributes(answer)
    assert found["email_verified"] == "true" and found["name"] == "Ada" and found["sub"]


def test_admin_create_user_mails_an_invitation(idp: Any, cognito_server: AuthgateServer) -> None:
    name = new_name()
    idp.admin_create_user(
        UserPoolId=POOL,
        Username=name,
        UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}],
        DesiredDeliveryMediums=["EMAIL"],
    )
    assert cognito_server.wait_for_mail(f"{name}@example.com")


def test_admin_create_user_resend_invites_again(idp: Any, cognito_server: AuthgateServer) -> None:
    name = create(idp)
    idp.admin_create_user(UserPoolId=POOL, Username=name, MessageAction="RESEND")
    assert cognito_server.wait_for_mail(f"{name}@example.com")


def test_admin_create_user_of_a_taken_name_exists(idp: Any) -> None:
    name = create(idp)
    with pytest.raises(idp.exceptions.UsernameExistsException):
        create(idp, name)


def test_admin_create_user_with_a_weak_temporary_password_is_refused(idp: Any) -> None:
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        create(idp, TemporaryPassword="short")


def test_admin_create_user_with_an_undeclared_attribute_is_refused(idp: Any) -> None:
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.admin_create_user(
            UserPoolId=POOL,
            Username=new_name(),
            UserAttributes=[{"Name": "custom:nope", "Value": "x"}],
            MessageAction="SUPPRESS",
        )


def test_admin_get_user_answers_cognito_shapes(idp: Any) -> None:
    name = confirmed(idp)
    answer = idp.admin_get_user(UserPoolId=POOL, Username=name)
    assert answer["UserStatus"] == "CONFIRMED"
    assert attributes(answer, "UserAttributes")["email"] == f"{name}@example.com"


def test_admin_get_user_of_nobody_is_user_not_found(idp: Any) -> None:
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=POOL, Username=new_name("nobody"))


def test_admin_delete_user_removes_the_user(idp: Any) -> None:
    name = create(idp)
    idp.admin_delete_user(UserPoolId=POOL, Username=name)
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=POOL, Username=name)


def test_a_disabled_user_cannot_sign_in_until_enabled(idp: Any) -> None:
    name = confirmed(idp)
    idp.admin_disable_user(UserPoolId=POOL, Username=name)
    assert idp.admin_get_user(UserPoolId=POOL, Username=name)["Enabled"] is False
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        admin_sign_in(idp, name)
    idp.admin_enable_user(UserPoolId=POOL, Username=name)
    assert "AccessToken" in admin_sign_in(idp, name)["AuthenticationResult"]


def test_admin_set_user_password_not_permanent_forces_a_change(idp: Any) -> None:
    name = create(idp)
    idp.admin_set_user_password(UserPoolId=POOL, Username=name, Password=PASSWORD, Permanent=False)
    assert idp.admin_get_user(UserPoolId=POOL, Username=name)["UserStatus"] == (
        "FORCE_CHANGE_PASSWORD"
    )


def test_admin_set_user_password_checks_the_policy(idp: Any) -> None:
    name = create(idp)
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.admin_set_user_password(UserPoolId=POOL, Username=name, Password="x", Permanent=True)


def test_admin_reset_user_password_requires_a_reset(
    idp: Any, cognito_server: AuthgateServer
) -> None:
    name = confirmed(idp)
    idp.admin_reset_user_password(UserPoolId=POOL, Username=name)
    assert idp.admin_get_user(UserPoolId=POOL, Username=name)["UserStatus"] == "RESET_REQUIRED"
    assert cognito_server.wait_for_mail(f"{name}@example.com")
    with pytest.raises(idp.exceptions.PasswordResetRequiredException):
        admin_sign_in(idp, name)


def test_admin_reset_user_password_ends_every_sign_in(idp: Any) -> None:
    name = confirmed(idp)
    result = admin_sign_in(idp, name)["AuthenticationResult"]
    idp.admin_reset_user_password(UserPoolId=POOL, Username=name)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=result["AccessToken"])
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.admin_initiate_auth(
            UserPoolId=POOL,
            ClientId=CLIENT,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
        )


def test_initiate_auth_of_a_user_who_must_reset_is_password_reset_required(idp: Any) -> None:
    name = confirmed(idp)
    idp.admin_reset_user_password(UserPoolId=POOL, Username=name)

    with pytest.raises(idp.exceptions.PasswordResetRequiredException):
        idp.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
        )


def test_admin_confirm_sign_up_confirms_a_signed_up_user(idp: Any) -> None:
    name = new_name()
    idp.sign_up(
        ClientId=CLIENT,
        Username=f"{name}@example.com",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}],
    )
    idp.admin_confirm_sign_up(UserPoolId=POOL, Username=f"{name}@example.com")
    status = idp.admin_get_user(UserPoolId=POOL, Username=f"{name}@example.com")["UserStatus"]
    assert status == "CONFIRMED"


def test_admin_confirm_sign_up_of_a_confirmed_user_is_not_authorized(idp: Any) -> None:
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.admin_confirm_sign_up(UserPoolId=POOL, Username=confirmed(idp))


def test_admin_update_and_delete_user_attributes(idp: Any) -> None:
    name = create(idp)
    idp.admin_update_user_attributes(
        UserPoolId=POOL,
        Username=name,
        UserAttributes=[
            {"Name": "given_name", "Value": "Grace"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    found = attributes(idp.admin_get_user(UserPoolId=POOL, Username=name), "UserAttributes")
    assert found["given_name"] == "Grace" and found["email_verified"] == "true"
    idp.admin_delete_user_attributes(
        UserPoolId=POOL, Username=name, UserAttributeNames=["given_name"]
    )
    found = attributes(idp.admin_get_user(UserPoolId=POOL, Username=name), "UserAttributes")
    assert "given_name" not in found


def test_admin_update_user_attributes_refuses_sub(idp: Any) -> None:
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.admin_update_user_attributes(
            UserPoolId=POOL, Username=create(idp), UserAttributes=[{"Name": "sub", "Value": "x"}]
        )


# -- sign-in -------------------------------------------------------------------------------------


def admin_sign_in(idp: Any, name: str, password: str = PASSWORD) -> dict[str, Any]:
    return dict(
        idp.admin_initiate_auth(
            UserPoolId=POOL,
            ClientId=CLIENT,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": password},
        )
    )


def test_admin_initiate_auth_signs_in_and_refreshes(idp: Any) -> None:
    result = admin_sign_in(idp, confirmed(idp))["AuthenticationResult"]
    assert result["TokenType"] == "Bearer" and result["IdToken"]
    again = idp.admin_initiate_auth(
        UserPoolId=POOL,
        ClientId=CLIENT,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
    )
    assert again["AuthenticationResult"]["AccessToken"]


def test_admin_initiate_auth_with_a_wrong_password_is_not_authorized(idp: Any) -> None:
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        admin_sign_in(idp, confirmed(idp), "Wrong-Password-123")


def test_admin_user_global_sign_out_ends_the_access_token(idp: Any) -> None:
    name = confirmed(idp)
    token = admin_sign_in(idp, name)["AuthenticationResult"]["AccessToken"]
    idp.admin_user_global_sign_out(UserPoolId=POOL, Username=name)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=token)


# -- groups ---------------------------------------------------------------------------------------


def test_groups_are_created_read_updated_listed_and_deleted(idp: Any) -> None:
    group = new_name("team")
    created = idp.create_group(UserPoolId=POOL, GroupName=group, Description="first")["Group"]
    assert created["GroupName"] == group and created["Description"] == "first"
    idp.update_group(UserPoolId=POOL, GroupName=group, Description="second")
    assert idp.get_group(UserPoolId=POOL, GroupName=group)["Group"]["Description"] == "second"
    listed = [g["GroupName"] for g in idp.list_groups(UserPoolId=POOL, Limit=60)["Groups"]]
    assert group in listed
    idp.delete_group(UserPoolId=POOL, GroupName=group)
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.get_group(UserPoolId=POOL, GroupName=group)


def test_a_taken_group_name_exists(idp: Any) -> None:
    group = new_name("team")
    idp.create_group(UserPoolId=POOL, GroupName=group)
    with pytest.raises(idp.exceptions.GroupExistsException):
        idp.create_group(UserPoolId=POOL, GroupName=group)


def test_membership_is_added_listed_and_removed(idp: Any) -> None:
    group, name = new_name("team"), create(idp)
    idp.create_group(UserPoolId=POOL, GroupName=group)
    idp.admin_add_user_to_group(UserPoolId=POOL, Username=name, GroupName=group)
    mine = idp.admin_list_groups_for_user(UserPoolId=POOL, Username=name)["Groups"]
    assert [g["GroupName"] for g in mine] == [group]
    members = idp.list_users_in_group(UserPoolId=POOL, GroupName=group)["Users"]
    assert [u["Username"] for u in members] == [name]
    idp.admin_remove_user_from_group(UserPoolId=POOL, Username=name, GroupName=group)
    assert idp.list_users_in_group(UserPoolId=POOL, GroupName=group)["Users"] == []


def test_adding_to_a_missing_group_is_not_found(idp: Any) -> None:
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.admin_add_user_to_group(UserPoolId=POOL, Username=create(idp), GroupName="no-such")


# -- listings ------------------------------------------------------------------------------------


def test_list_users_filters_exactly_and_by_prefix(idp: Any) -> None:
    stem = new_name("filter")
    for suffix in ("a", "b"):
        idp.admin_create_user(
            UserPoolId=POOL,
            Username=f"{stem}-{suffix}",
            UserAttributes=[
                {"Name": "email", "Value": f"{stem}-{suffix}@example.com"},
                {"Name": "family_name", "Value": f"Fam{stem}{suffix}"},
            ],
            MessageAction="SUPPRESS",
        )
    exact = idp.list_users(UserPoolId=POOL, Filter=f'family_name = "Fam{stem}a"')["Users"]
    assert [u["Username"] for u in exact] == [f"{stem}-a"]
    prefix = idp.list_users(UserPoolId=POOL, Filter=f'username ^= "{stem}"')["Users"]
    assert [u["Username"] for u in prefix] == [f"{stem}-a", f"{stem}-b"]
    by_mail = idp.list_users(UserPoolId=POOL, Filter=f'email ^= "{stem}-b@"')["Users"]
    assert [u["Username"] for u in by_mail] == [f"{stem}-b"]


def test_list_users_filters_on_status(idp: Any) -> None:
    name = create(idp)
    idp.admin_disable_user(UserPoolId=POOL, Username=name)
    disabled = idp.list_users(UserPoolId=POOL, Filter='status = "Disabled"', Limit=60)["Users"]
    assert name in [u["Username"] for u in disabled]
    forced = idp.list_users(
        UserPoolId=POOL, Filter='cognito:user_status = "FORCE_CHANGE_PASSWORD"', Limit=60
    )
    assert all(u["UserStatus"] == "FORCE_CHANGE_PASSWORD" for u in forced["Users"])


def test_list_users_pages_with_a_token_and_gives_only_wanted_attributes(idp: Any) -> None:
    stem = new_name("page")
    for index in range(3):
        create(idp, f"{stem}-{index}")
    pages: list[str] = []
    token: str | None = None
    while True:
        extra = {"PaginationToken": token} if token else {}
        answer = idp.list_users(
            UserPoolId=POOL,
            Filter=f'username ^= "{stem}"',
            Limit=2,
            AttributesToGet=["email"],
            **extra,
        )
        pages.append(",".join(u["Username"] for u in answer["Users"]))
        assert all([a["Name"] for a in u["Attributes"]] == ["email"] for u in answer["Users"])
        token = answer.get("PaginationToken")
        if not token:
            break
    assert pages == [f"{stem}-0,{stem}-1", f"{stem}-2"]


def test_a_tampered_pagination_token_is_refused(idp: Any) -> None:
    stem = new_name("tamper")
    for index in range(2):
        create(idp, f"{stem}-{index}")
    token = idp.list_users(UserPoolId=POOL, Filter=f'username ^= "{stem}"', Limit=1)[
        "PaginationToken"
    ]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.list_users(UserPoolId=POOL, Limit=1, PaginationToken=token)  # another filter
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.list_users(
            UserPoolId=POOL,
            Filter=f'username ^= "{stem}"',
            Limit=1,
            PaginationToken=token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        )


def test_a_malformed_filter_is_an_invalid_parameter(idp: Any) -> None:
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.list_users(UserPoolId=POOL, Filter='custom:team = "x"')


def test_describe_user_pool_client_and_list_clients(idp: Any) -> None:
    client = idp.describe_user_pool_client(UserPoolId=POOL, ClientId=CLIENT)["UserPoolClient"]
    assert client["ClientId"] == CLIENT and "ClientSecret" not in client
    listed = idp.list_user_pool_clients(UserPoolId=POOL, MaxResults=60)["UserPoolClients"]
    assert CLIENT in [c["ClientId"] for c in listed]
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_pool_client(UserPoolId=POOL, ClientId="nosuchclient")


def test_describe_user_pool_client_gives_refresh_token_rotation(
    idp: Any, cognito_server: AuthgateServer
) -> None:
    with cognito_server.admin_client() as admin:
        created = admin.post(
            "/admin/clients",
            json={
                "client_name": "keeps-its-token",
                "token_endpoint_auth_method": "none",
                "refresh_token_rotation": False,
            },
        )
    assert created.status_code == 201, created.text

    rotating = idp.describe_user_pool_client(UserPoolId=POOL, ClientId=CLIENT)["UserPoolClient"]
    keeping = idp.describe_user_pool_client(UserPoolId=POOL, ClientId=created.json()["client_id"])[
        "UserPoolClient"
    ]

    assert rotating["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 10}
    assert keeping["RefreshTokenRotation"] == {"Feature": "DISABLED"}


def test_describe_user_pool_gives_the_password_policy(idp: Any) -> None:
    pool = idp.describe_user_pool(UserPoolId=POOL)["UserPool"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 8
    assert pool["EstimatedNumberOfUsers"] >= 0


@pytest.fixture(autouse=True)
def _no_leaked_env() -> Iterator[None]:
    """boto3 must not pick up credentials or endpoints from the environment."""
    with mock.patch.dict(
        "os.environ", {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    ):
        yield


def test_admin_respond_to_auth_challenge_sets_the_new_password_of_an_invited_user(
    idp: Any,
) -> None:
    name = create(idp, TemporaryPassword=PASSWORD)
    challenge = admin_sign_in(idp, name)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in challenge
    answer = idp.admin_respond_to_auth_challenge(
        UserPoolId=POOL,
        ClientId=CLIENT,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": "Brand-New-Horse-7"},
    )
    assert answer["AuthenticationResult"]["AccessToken"]
    assert idp.admin_get_user(UserPoolId=POOL, Username=name)["UserStatus"] == "CONFIRMED"
    assert admin_sign_in(idp, name, "Brand-New-Horse-7")["AuthenticationResult"]["IdToken"]


def test_admin_respond_to_auth_challenge_spends_its_session(idp: Any) -> None:
    name = create(idp, TemporaryPassword=PASSWORD)
    session = admin_sign_in(idp, name)["Session"]
    responses = {"USERNAME": name, "NEW_PASSWORD": "Brand-New-Horse-7"}
    idp.admin_respond_to_auth_challenge(
        UserPoolId=POOL,
        ClientId=CLIENT,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=session,
        ChallengeResponses=responses,
    )
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.admin_respond_to_auth_challenge(
            UserPoolId=POOL,
            ClientId=CLIENT,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=session,
            ChallengeResponses=responses,
        )
