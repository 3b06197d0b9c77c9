"""InitiateAuth, the refresh operations, RevokeToken and the AccessToken operations through
boto3; and one sign-in serving both APIs: a token from InitiateAuth passes the gate and
`/v1/me`, one from `/v1/login` works at GetUser, GlobalSignOut ends both."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.cognito_support import (
    NEW_PASSWORD,
    PASSWORD,
    WRONG_PASSWORD,
    cognito,
    new_client,
    secret_hash,
)
from tests.integration.cognito_support import no_real_aws as no_real_aws
from tests.integration.conftest import ServerFactory
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import jose_parts
from tests.integration.proxy_support import route
from tests.integration.upstream_app import Upstream


@pytest.fixture(scope="module")
def pool(make_server: ServerFactory, upstream: Upstream) -> AuthgateServer:
    gate_route = {**route("app", "/app/**", "main"), "authenticate": ["jwt"]}
    return make_server(
        user_pool={"custom_attributes": {"tenant": {"type": "string"}}},
        gateway={"upstreams": {"main": {"targets": [upstream.url]}}, "routes": [gate_route]},
    )


@pytest.fixture(scope="module")
def idp(pool: AuthgateServer) -> Any:
    return cognito(pool)


@pytest.fixture(scope="module")
def app(pool: AuthgateServer) -> str:
    return new_client(pool, secret=False)[0]


@pytest.fixture(scope="module")
def http(pool: AuthgateServer) -> Iterator[httpx.Client]:
    with pool.public_client() as client:
        yield client


def confirmed_user(pool: AuthgateServer, password: str = PASSWORD) -> str:
    return created_user(pool, password)[0]


def created_user(pool: AuthgateServer, password: str = PASSWORD) -> tuple[str, str]:
    """A confirmed user made through the admin API: (email, sub)."""
    email = f"auth-{secrets.token_hex(4)}@example.com"
    with pool.admin_client() as admin:
        created = admin.post(
            "/admin/users", json={"email": email, "password": password, "email_verified": True}
        )
    assert created.status_code == 201, created.text
    return email, created.json()["sub"]


def sign_in(idp: Any, app: str, email: str, password: str = PASSWORD, **extra: str) -> Any:
    answer = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password, **extra},
    )
    return answer["AuthenticationResult"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- InitiateAuth ----------------------------------------------------------------------------


def test_user_password_auth_answers_an_authentication_result(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    answer = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": confirmed_user(pool), "PASSWORD": PASSWORD},
    )

    assert answer["ChallengeParameters"] == {}
    assert set(answer["AuthenticationResult"]) == {
        "AccessToken",
        "ExpiresIn",
        "TokenType",
        "RefreshToken",
        "IdToken",
    }


def test_the_access_token_carries_cognitos_claims(pool: AuthgateServer, idp: Any, app: str) -> None:
    email = confirmed_user(pool)

    _, claims = jose_parts(sign_in(idp, app, email)["AccessToken"])

    assert claims["token_use"] == "access"
    assert claims["client_id"] == app
    assert claims["username"] == email
    assert "aws.cognito.signin.user.admin" in claims["scope"].split()
    assert isinstance(claims["auth_time"], int)
    assert claims["jti"] and claims["origin_jti"] and claims["event_id"]
    assert claims["iss"] == pool.public


def test_the_id_token_carries_cognitos_claims(pool: AuthgateServer, idp: Any, app: str) -> None:
    email = confirmed_user(pool)

    _, claims = jose_parts(sign_in(idp, app, email)["IdToken"])

    assert claims["aud"] == app
    assert claims["token_use"] == "id"
    assert claims["cognito:username"] == email
    assert claims["email"] == email
    assert claims["email_verified"] is True


def test_cognito_groups_name_the_users_groups(pool: AuthgateServer, idp: Any, app: str) -> None:
    email, sub = created_user(pool)
    with pool.admin_client() as admin:
        admin.post("/admin/groups", json={"name": "editors"})
        assert admin.put(f"/admin/groups/editors/members/{sub}").status_code < 300

    tokens = sign_in(idp, app, email)

    assert jose_parts(tokens["AccessToken"])[1]["cognito:groups"] == ["editors"]
    assert jose_parts(tokens["IdToken"])[1]["cognito:groups"] == ["editors"]


def test_a_wrong_password_is_not_authorized(pool: AuthgateServer, idp: Any, app: str) -> None:
    with pytest.raises(
        idp.exceptions.NotAuthorizedException, match="Incorrect username or password."
    ):
        sign_in(idp, app, confirmed_user(pool), WRONG_PASSWORD)


def test_an_unknown_user_answers_like_a_wrong_password(idp: Any, app: str) -> None:
    with pytest.raises(
        idp.exceptions.NotAuthorizedException, match="Incorrect username or password."
    ):
        sign_in(idp, app, "nobody-here@example.com")


def test_an_unconfirmed_user_is_user_not_confirmed(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    email = f"unconfirmed-{secrets.token_hex(4)}@example.com"
    idp.sign_up(ClientId=app, Username=email, Password=PASSWORD)

    with pytest.raises(idp.exceptions.UserNotConfirmedException):
        sign_in(idp, app, email)


def test_a_disabled_user_is_not_authorized(pool: AuthgateServer, idp: Any, app: str) -> None:
    email, sub = created_user(pool)
    with pool.admin_client() as admin:
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200

    with pytest.raises(idp.exceptions.NotAuthorizedException, match="User is disabled."):
        sign_in(idp, app, email)


@pytest.fixture(scope="module")
def strict(make_server: ServerFactory) -> AuthgateServer:
    return make_server(throttle={"login_failures": 3})


@pytest.fixture(scope="module")
def no_reuse(make_server: ServerFactory) -> AuthgateServer:
    return make_server(tokens={"refresh_reuse_interval": 0})


def test_repeated_wrong_passwords_lock_the_sign_in(strict: AuthgateServer) -> None:
    idp = cognito(strict)
    app = new_client(strict, secret=False)[0]
    email = confirmed_user(strict)
    for _ in range(3):
        with pytest.raises(idp.exceptions.NotAuthorizedException):
            sign_in(idp, app, email, WRONG_PASSWORD)

    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Password attempts exceeded"):
        sign_in(idp, app, email)


def test_an_unknown_auth_flow_is_an_invalid_parameter(idp: Any, app: str) -> None:
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.initiate_auth(ClientId=app, AuthFlow="CUSTOM_AUTH", AuthParameters={})


def test_a_missing_password_is_an_invalid_parameter(idp: Any, app: str) -> None:
    with pytest.raises(idp.exceptions.InvalidParameterException, match="PASSWORD"):
        idp.initiate_auth(
            ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "a"}
        )


def test_a_client_with_a_secret_signs_in_with_the_secret_hash(
    pool: AuthgateServer, idp: Any
) -> None:
    client_id, client_secret = new_client(pool, secret=True)
    email = confirmed_user(pool)

    tokens = sign_in(
        idp, client_id, email, SECRET_HASH=secret_hash(client_id, client_secret, email)
    )

    assert jose_parts(tokens["IdToken"])[1]["aud"] == client_id


def test_a_client_with_a_secret_refuses_a_sign_in_without_the_hash(
    pool: AuthgateServer, idp: Any
) -> None:
    client_id, _ = new_client(pool, secret=True)

    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Unable to verify secret"):
        sign_in(idp, client_id, confirmed_user(pool))


# -- refresh ---------------------------------------------------------------------------------


def test_refresh_token_auth_gives_new_tokens(pool: AuthgateServer, idp: Any, app: str) -> None:
    first = sign_in(idp, app, confirmed_user(pool))

    answer = idp.initiate_auth(
        ClientId=app,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]},
    )["AuthenticationResult"]

    assert answer["AccessToken"] != first["AccessToken"]
    assert answer["IdToken"]
    same = jose_parts(answer["AccessToken"])[1]["origin_jti"]
    assert same == jose_parts(first["AccessToken"])[1]["origin_jti"]


def test_a_refresh_repeated_at_once_gets_the_same_successor(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    first = sign_in(idp, app, confirmed_user(pool))
    again = {"REFRESH_TOKEN": first["RefreshToken"]}

    one = idp.initiate_auth(ClientId=app, AuthFlow="REFRESH_TOKEN", AuthParameters=again)
    two = idp.initiate_auth(ClientId=app, AuthFlow="REFRESH_TOKEN", AuthParameters=again)

    assert one["AuthenticationResult"] == two["AuthenticationResult"]


def test_a_spent_refresh_token_is_not_authorized(no_reuse: AuthgateServer) -> None:
    idp = cognito(no_reuse)
    app = new_client(no_reuse, secret=False)[0]
    first = sign_in(idp, app, confirmed_user(no_reuse))
    again = {"REFRESH_TOKEN": first["RefreshToken"]}
    idp.initiate_auth(ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=again)

    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid Refresh Token"):
        idp.initiate_auth(ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=again)


def test_a_refresh_token_of_another_client_is_not_authorized(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    other = new_client(pool, secret=False)[0]
    first = sign_in(idp, app, confirmed_user(pool))

    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid Refresh Token"):
        idp.initiate_auth(
            ClientId=other,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]},
        )


def test_get_tokens_from_refresh_token_with_the_client_secret(
    pool: AuthgateServer, idp: Any
) -> None:
    client_id, client_secret = new_client(pool, secret=True)
    email = confirmed_user(pool)
    first = sign_in(idp, client_id, email, SECRET_HASH=secret_hash(client_id, client_secret, email))

    answer = idp.get_tokens_from_refresh_token(
        RefreshToken=first["RefreshToken"], ClientId=client_id, ClientSecret=client_secret
    )["AuthenticationResult"]

    assert answer["AccessToken"] and answer["RefreshToken"] != first["RefreshToken"]


def test_get_tokens_from_refresh_token_with_a_wrong_secret_is_not_authorized(
    pool: AuthgateServer, idp: Any
) -> None:
    client_id, client_secret = new_client(pool, secret=True)
    email = confirmed_user(pool)
    first = sign_in(idp, client_id, email, SECRET_HASH=secret_hash(client_id, client_secret, email))

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_tokens_from_refresh_token(
            RefreshToken=first["RefreshToken"], ClientId=client_id, ClientSecret="wrong" * 8
        )


def test_revoke_token_ends_the_sign_in(pool: AuthgateServer, idp: Any, app: str) -> None:
    first = sign_in(idp, app, confirmed_user(pool))

    idp.revoke_token(Token=first["RefreshToken"], ClientId=app)

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]},
        )
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=first["AccessToken"])


# -- the signed-in user ----------------------------------------------------------------------


def test_get_user_lists_the_attributes(pool: AuthgateServer, idp: Any, app: str) -> None:
    email = confirmed_user(pool)

    user = idp.get_user(AccessToken=sign_in(idp, app, email)["AccessToken"])

    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["Username"] == email
    assert attributes["email"] == email
    assert attributes["email_verified"] == "true"
    assert len(attributes["sub"]) == 36


def test_get_user_with_a_garbage_token_is_not_authorized(idp: Any) -> None:
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken="not.a.token")


def test_update_and_delete_user_attributes(pool: AuthgateServer, idp: Any, app: str) -> None:
    token = sign_in(idp, app, confirmed_user(pool))["AccessToken"]

    idp.update_user_attributes(
        AccessToken=token,
        UserAttributes=[{"Name": "name", "Value": "Ada"}, {"Name": "custom:tenant", "Value": "t"}],
    )
    idp.delete_user_attributes(AccessToken=token, UserAttributeNames=["name"])

    names = {a["Name"]: a["Value"] for a in idp.get_user(AccessToken=token)["UserAttributes"]}
    assert "name" not in names
    assert names["custom:tenant"] == "t"


def test_update_user_attributes_refuses_an_undeclared_one(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    token = sign_in(idp, app, confirmed_user(pool))["AccessToken"]

    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.update_user_attributes(
            AccessToken=token, UserAttributes=[{"Name": "custom:other", "Value": "x"}]
        )


def test_a_new_email_is_verified_with_the_mailed_code(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    token = sign_in(idp, app, confirmed_user(pool))["AccessToken"]
    new_email = f"moved-{secrets.token_hex(4)}@example.com"

    answer = idp.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": "email", "Value": new_email}]
    )
    assert answer["CodeDeliveryDetailsList"][0]["Destination"] == "m***@e***"
    idp.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    code = pool.wait_for_mail(new_email, count=2).code
    idp.verify_user_attribute(AccessToken=token, AttributeName="email", Code=code)

    names = {a["Name"]: a["Value"] for a in idp.get_user(AccessToken=token)["UserAttributes"]}
    assert names["email"] == new_email


def test_verify_user_attribute_with_a_wrong_code_is_code_mismatch(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    token = sign_in(idp, app, confirmed_user(pool))["AccessToken"]
    new_email = f"moved-{secrets.token_hex(4)}@example.com"
    idp.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": "email", "Value": new_email}]
    )
    code = pool.wait_for_mail(new_email).code

    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.verify_user_attribute(
            AccessToken=token, AttributeName="email", Code=f"{(int(code) + 1) % 10**6:06d}"
        )


def test_change_password(pool: AuthgateServer, idp: Any, app: str) -> None:
    email = confirmed_user(pool)
    token = sign_in(idp, app, email)["AccessToken"]

    idp.change_password(AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD)

    assert sign_in(idp, app, email, NEW_PASSWORD)["AccessToken"]


def test_change_password_with_a_wrong_previous_one_is_not_authorized(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    token = sign_in(idp, app, confirmed_user(pool))["AccessToken"]

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.change_password(
            AccessToken=token, PreviousPassword=WRONG_PASSWORD, ProposedPassword=NEW_PASSWORD
        )


def test_change_password_to_a_weak_one_is_invalid_password(
    pool: AuthgateServer, idp: Any, app: str
) -> None:
    token = sign_in(idp, app, confirmed_user(pool))["AccessToken"]

    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.change_password(AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword="short")


def test_delete_user(pool: AuthgateServer, idp: Any, app: str) -> None:
    email = confirmed_user(pool)
    token = sign_in(idp, app, email)["AccessToken"]

    idp.delete_user(AccessToken=token)

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=token)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        sign_in(idp, app, email)


# -- one sign-in, both APIs ------------------------------------------------------------------


def test_a_token_from_initiate_auth_passes_the_gate_and_v1_me(
    pool: AuthgateServer, idp: Any, app: str, http: httpx.Client
) -> None:
    email = confirmed_user(pool)
    token = sign_in(idp, app, email)["AccessToken"]

    assert http.get("/app/hello", headers=bearer(token)).status_code == 200
    me = http.get("/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["email"] == email


def test_a_token_from_v1_login_works_at_get_user(
    pool: AuthgateServer, idp: Any, http: httpx.Client
) -> None:
    email = confirmed_user(pool)
    tokens = http.post("/v1/login", json={"username": email, "password": PASSWORD}).json()

    assert idp.get_user(AccessToken=tokens["access_token"])["Username"] == email


def test_global_sign_out_ends_both_apis_sign_ins(
    pool: AuthgateServer, idp: Any, app: str, http: httpx.Client
) -> None:
    email = confirmed_user(pool)
    cognito_tokens = sign_in(idp, app, email)
    v1_tokens = http.post("/v1/login", json={"username": email, "password": PASSWORD}).json()

    idp.global_sign_out(AccessToken=cognito_tokens["AccessToken"])

    for token in (cognito_tokens["AccessToken"], v1_tokens["access_token"]):
        assert http.get("/v1/me", headers=bearer(token)).status_code == 401
        assert http.get("/app/hello", headers=bearer(token)).status_code == 401
    refreshed = http.post("/v1/token/refresh", json={"refresh_token": v1_tokens["refresh_token"]})
    assert refreshed.status_code == 401
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": cognito_tokens["RefreshToken"]},
        )
