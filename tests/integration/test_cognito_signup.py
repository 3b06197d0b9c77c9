"""SignUp, ConfirmSignUp, ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword
through boto3: each success, and each error a client catches as `client.exceptions.*`."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from tests.integration.cognito_support import (
    NEW_PASSWORD,
    PASSWORD,
    cognito,
    new_client,
    secret_hash,
)
from tests.integration.cognito_support import no_real_aws as no_real_aws
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer


@pytest.fixture(scope="module")
def pool(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        user_pool={
            "custom_attributes": {"tenant": {"type": "string"}},
            "required_attributes": ["name"],
        }
    )


@pytest.fixture(scope="module")
def idp(pool: AuthgateServer) -> Any:
    return cognito(pool)


@pytest.fixture(scope="module")
def app(pool: AuthgateServer) -> str:
    """A client without a secret (a browser or mobile app)."""
    return new_client(pool, secret=False)[0]


def address() -> str:
    return f"cog-{secrets.token_hex(4)}@example.com"


def sign_up(idp: Any, app: str, email: str, **extra: Any) -> Any:
    attributes = extra.pop("UserAttributes", [{"Name": "name", "Value": "Ada"}])
    return idp.sign_up(
        ClientId=app, Username=email, Password=PASSWORD, UserAttributes=attributes, **extra
    )


def confirmed(pool: AuthgateServer, idp: Any, app: str) -> str:
    email = address()
    sign_up(idp, app, email)
    idp.confirm_sign_up(
        ClientId=app, Username=email, ConfirmationCode=pool.wait_for_mail(email).code
    )
    return email


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_sign_up_answers_unconfirmed_with_a_sub_and_a_masked_destination(
    idp: Any, app: str
) -> None:
    email = address()

    answer = sign_up(idp, app, email)

    assert answer["UserConfirmed"] is False
    assert len(answer["UserSub"]) == 36
    assert answer["CodeDeliveryDetails"] == {
        "Destination": "c***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }


def test_sign_up_keeps_declared_custom_attributes(pool: AuthgateServer, idp: Any, app: str) -> None:
    email = address()
    sign_up(
        idp,
        app,
        email,
        UserAttributes=[{"Name": "name", "Value": "Ada"}, {"Name": "custom:tenant", "Value": "t1"}],
    )
    idp.confirm_sign_up(
        ClientId=app, Username=email, ConfirmationCode=pool.wait_for_mail(email).code
    )
    tokens = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]

    user = idp.get_user(AccessToken=tokens["AccessToken"])

    assert {"Name": "custom:tenant", "Value": "t1"} in user["UserAttributes"]


def test_sign_up_refuses_an_undeclared_custom_attribute(idp: Any, app: str) -> None:
    attributes = [{"Name": "name", "Value": "Ada"}, {"Name": "custom:nope", "Value": "x"}]

    with pytest.raises(idp.exceptions.InvalidParameterException, match="custom:nope"):
        sign_up(idp, app, address(), UserAttributes=attributes)


def test_sign_up_refuses_a_missing_required_attribute_by_name(idp: Any, app: str) -> None:
    with pytest.raises(idp.exceptions.InvalidParameterException, match="name"):
        sign_up(idp, app, address(), UserAttributes=[])


def test_sign_up_of_a_taken_username_is_username_exists(idp: Any, app: str) -> None:
    email = address()
    sign_up(idp, app, email)

    with pytest.raises(idp.exceptions.UsernameExistsException):
        sign_up(idp, app, email)


def test_sign_up_with_a_weak_password_is_invalid_password(idp: Any, app: str) -> None:
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.sign_up(
            ClientId=app,
            Username=address(),
            Password="short",
            UserAttributes=[{"Name": "name", "Value": "Ada"}],
        )


def test_an_unknown_client_is_resource_not_found(idp: Any) -> None:
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        sign_up(idp, "nosuchclient", address())


def test_a_client_with_a_secret_needs_the_secret_hash(pool: AuthgateServer, idp: Any) -> None:
    client_id, _ = new_client(pool, secret=True)

    with pytest.raises(
        idp.exceptions.NotAuthorizedException,
        match=f"Unable to verify secret hash for client {client_id}",
    ):
        sign_up(idp, client_id, address())


def test_a_wrong_secret_hash_is_not_authorized(pool: AuthgateServer, idp: Any) -> None:
    client_id, client_secret = new_client(pool, secret=True)
    email = address()

    with pytest.raises(
        idp.exceptions.NotAuthorizedException,
        match=f"Unable to verify secret hash for client {client_id}",
    ):
        sign_up(idp, client_id, email, SecretHash=secret_hash(client_id, client_secret, "other"))


def test_a_client_without_a_secret_must_not_send_a_secret_hash(idp: Any, app: str) -> None:
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="secret hash"):
        sign_up(idp, app, address(), SecretHash="c2VjcmV0")


def test_confirm_sign_up_with_a_wrong_code_is_code_mismatch(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    email = address()
    sign_up(idp, app, email)

    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_sign_up(
            ClientId=app, Username=email, ConfirmationCode=wrong(pool.wait_for_mail(email).code)
        )


def test_confirm_sign_up_of_an_unknown_user_is_code_mismatch_too(idp: Any, app: str) -> None:
    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_sign_up(ClientId=app, Username=address(), ConfirmationCode="123456")


def test_resend_confirmation_code_mails_a_new_code(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    email = address()
    sign_up(idp, app, email)

    answer = idp.resend_confirmation_code(ClientId=app, Username=email)

    assert answer["CodeDeliveryDetails"]["Destination"] == "c***@e***"
    idp.confirm_sign_up(
        ClientId=app, Username=email, ConfirmationCode=pool.wait_for_mail(email, count=2).code
    )


def test_forgot_password_answers_alike_for_an_unknown_user(idp: Any, app: str) -> None:
    answer = idp.forgot_password(ClientId=app, Username=address())

    assert answer["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"


def test_confirm_forgot_password_sets_the_new_password(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    email = confirmed(pool, idp, app)
    idp.forgot_password(ClientId=app, Username=email)
    code = pool.wait_for_mail(email, count=2).code

    idp.confirm_forgot_password(
        ClientId=app, Username=email, ConfirmationCode=code, Password=NEW_PASSWORD
    )

    result = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": NEW_PASSWORD},
    )
    assert result["AuthenticationResult"]["AccessToken"]


def test_confirm_forgot_password_with_a_wrong_code_is_code_mismatch(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    email = confirmed(pool, idp, app)
    idp.forgot_password(ClientId=app, Username=email)
    code = pool.wait_for_mail(email, count=2).code

    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_forgot_password(
            ClientId=app, Username=email, ConfirmationCode=wrong(code), Password=NEW_PASSWORD
        )


def test_confirm_forgot_password_with_a_weak_password_is_invalid_password(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    email = confirmed(pool, idp, app)
    idp.forgot_password(ClientId=app, Username=email)
    code = pool.wait_for_mail(email, count=2).code

    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.confirm_forgot_password(
            ClientId=app, Username=email, ConfirmationCode=code, Password="short"
        )


# -- prevent_user_existence_errors: false, short codes, tight throttles ----------------------


@pytest.fixture(scope="module")
def telling(make_server: ServerFactory) -> AuthgateServer:
    return make_server(
        cognito={"prevent_user_existence_errors": False},
        user_pool={"signup_code_ttl": "1s"},
    )


@pytest.fixture(scope="module")
def throttled(make_server: ServerFactory) -> AuthgateServer:
    return make_server(throttle={"forgot_per_ip": "2/hour"})


def test_without_prevention_an_unknown_user_is_user_not_found(telling: AuthgateServer) -> None:
    idp = cognito(telling)
    app = new_client(telling, secret=False)[0]

    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.confirm_sign_up(ClientId=app, Username=address(), ConfirmationCode="123456")


def test_without_prevention_an_expired_code_is_expired_code(telling: AuthgateServer) -> None:
    idp = cognito(telling)
    app = new_client(telling, secret=False)[0]
    email = address()
    sign_up(idp, app, email)
    code = telling.wait_for_mail(email).code
    time.sleep(1.5)  # the code lives 1 s; the real process has no clock to move

    with pytest.raises(idp.exceptions.ExpiredCodeException):
        idp.confirm_sign_up(ClientId=app, Username=email, ConfirmationCode=code)


def test_forgot_password_over_the_rate_is_limit_exceeded(throttled: AuthgateServer) -> None:
    idp = cognito(throttled)
    app = new_client(throttled, secret=False)[0]
    for _ in range(2):
        idp.forgot_password(ClientId=app, Username=address())

    with pytest.raises(idp.exceptions.LimitExceededException):
        idp.forgot_password(ClientId=app, Username=address())
