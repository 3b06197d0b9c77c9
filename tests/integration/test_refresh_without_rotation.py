"""Clients with `refresh_token_rotation: false`: Cognito's clients without rotation, which
keep using the first refresh token of a sign-in for its whole life.

Such a client's refresh token is not spent by use: every refresh answers new access and ID
tokens and no new refresh token (Cognito's AuthenticationResult without RefreshToken,
/oauth2/token and /v1/token/refresh without `refresh_token`), past
`tokens.refresh_reuse_interval` (1 s here) as often as it likes. Ending the sign-in ends
it at once, as for any client. A rotating client on the same server still loses its
sign-in when it presents a spent token after the interval: that is what shows the waits
below went past it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.cognito_support import (
    NEW_PASSWORD,
    PASSWORD,
    cognito,
    new_client,
    secret_hash,
)
from tests.integration.cognito_support import no_real_aws as no_real_aws
from tests.integration.conftest import ServerFactory, unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.oauth_support import (
    assert_oauth_error,
    code_tokens,
    jose_parts,
    person,
    post_form,
    token_request,
    web_app,
)

REUSE_INTERVAL = 1.0


@pytest.fixture(scope="module")
def pool(make_server: ServerFactory) -> AuthgateServer:
    return make_server(tokens={"refresh_reuse_interval": REUSE_INTERVAL})


@pytest.fixture(scope="module")
def idp(pool: AuthgateServer) -> Any:
    return cognito(pool)


@pytest.fixture(scope="module")
def keeper(pool: AuthgateServer) -> str:
    """A public Cognito-style client that does not rotate."""
    return new_client(pool, secret=False, refresh_token_rotation=False)[0]


@pytest.fixture(scope="module")
def rotating(pool: AuthgateServer) -> str:
    return new_client(pool, secret=False)[0]


@pytest.fixture(scope="module")
def http(pool: AuthgateServer) -> Iterator[httpx.Client]:
    with pool.public_client() as client:
        yield client


def past_the_reuse_interval() -> None:
    time.sleep(REUSE_INTERVAL + 0.5)


def user(pool: AuthgateServer) -> str:
    email = unique_email("keep")
    with pool.admin_client() as admin:
        created = admin.post(
            "/admin/users", json={"email": email, "password": PASSWORD, "email_verified": True}
        )
    assert created.status_code == 201, created.text
    return email


def sign_in(idp: Any, client_id: str, email: str, **extra: str) -> dict[str, Any]:
    answer = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD, **extra},
    )
    result: dict[str, Any] = answer["AuthenticationResult"]
    return result


def refresh(idp: Any, client_id: str, token: str, **extra: str) -> dict[str, Any]:
    answer = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": token, **extra},
    )
    result: dict[str, Any] = answer["AuthenticationResult"]
    return result


def origin(access_token: str) -> str:
    return str(jose_parts(access_token)[1]["origin_jti"])


# -- Cognito ---------------------------------------------------------------------------------


def test_a_non_rotating_client_reuses_its_first_refresh_token_past_the_interval(
    pool: AuthgateServer, idp: Any, keeper: str
) -> None:
    first = sign_in(idp, keeper, user(pool))
    answers = [refresh(idp, keeper, first["RefreshToken"])]
    for _ in range(3):
        past_the_reuse_interval()
        answers.append(refresh(idp, keeper, first["RefreshToken"]))

    for answer in answers:
        assert set(answer) == {"AccessToken", "ExpiresIn", "TokenType", "IdToken"}
        assert origin(answer["AccessToken"]) == origin(first["AccessToken"])
    assert len({a["AccessToken"] for a in answers}) == len(answers)


def test_a_rotating_client_past_the_interval_loses_its_sign_in(
    pool: AuthgateServer, idp: Any, rotating: str
) -> None:
    first = sign_in(idp, rotating, user(pool))
    second = refresh(idp, rotating, first["RefreshToken"])
    past_the_reuse_interval()

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        refresh(idp, rotating, first["RefreshToken"])
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        refresh(idp, rotating, second["RefreshToken"])


def test_a_rotating_client_gets_the_new_refresh_token(
    pool: AuthgateServer, idp: Any, rotating: str
) -> None:
    first = sign_in(idp, rotating, user(pool))

    answer = refresh(idp, rotating, first["RefreshToken"])

    assert answer["RefreshToken"] and answer["RefreshToken"] != first["RefreshToken"]
    assert refresh(idp, rotating, answer["RefreshToken"])["AccessToken"]


def test_get_tokens_from_refresh_token_keeps_a_non_rotating_clients_token(
    pool: AuthgateServer, idp: Any
) -> None:
    client_id, client_secret = new_client(pool, secret=True, refresh_token_rotation=False)
    email = user(pool)
    first = sign_in(idp, client_id, email, SECRET_HASH=secret_hash(client_id, client_secret, email))

    answers = []
    for _ in range(2):
        answers.append(
            idp.get_tokens_from_refresh_token(
                RefreshToken=first["RefreshToken"], ClientId=client_id, ClientSecret=client_secret
            )["AuthenticationResult"]
        )
        past_the_reuse_interval()

    assert all("RefreshToken" not in a and a["AccessToken"] for a in answers)


def test_global_sign_out_ends_a_non_rotating_sign_in(
    pool: AuthgateServer, idp: Any, keeper: str
) -> None:
    first = sign_in(idp, keeper, user(pool))
    refresh(idp, keeper, first["RefreshToken"])

    idp.global_sign_out(AccessToken=first["AccessToken"])

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        refresh(idp, keeper, first["RefreshToken"])


def test_revoke_token_ends_a_non_rotating_sign_in(
    pool: AuthgateServer, idp: Any, keeper: str
) -> None:
    first = sign_in(idp, keeper, user(pool))
    later = refresh(idp, keeper, first["RefreshToken"])

    idp.revoke_token(Token=first["RefreshToken"], ClientId=keeper)

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        refresh(idp, keeper, first["RefreshToken"])
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=later["AccessToken"])


def test_a_disabled_user_cannot_refresh_a_non_rotating_sign_in(
    pool: AuthgateServer, idp: Any, keeper: str
) -> None:
    email = user(pool)
    first = sign_in(idp, keeper, email)
    with pool.admin_client() as admin:
        sub = jose_parts(first["AccessToken"])[1]["sub"]
        assert admin.post(f"/admin/users/{sub}/disable").status_code == 200

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        refresh(idp, keeper, first["RefreshToken"])


def test_a_refresh_token_of_a_non_rotating_client_is_refused_to_another(
    pool: AuthgateServer, idp: Any, keeper: str, rotating: str
) -> None:
    first = sign_in(idp, keeper, user(pool))

    with pytest.raises(idp.exceptions.NotAuthorizedException):
        refresh(idp, rotating, first["RefreshToken"])


# -- /oauth2/token ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oauth_keeper(pool: AuthgateServer) -> dict[str, Any]:
    return web_app(pool, refresh_token_rotation=False)


def oauth_refresh(pool: AuthgateServer, client: dict[str, Any], token: str) -> httpx.Response:
    return token_request(pool, client, grant_type="refresh_token", refresh_token=token)


def test_the_token_endpoint_keeps_a_non_rotating_clients_refresh_token(
    pool: AuthgateServer, oauth_keeper: dict[str, Any]
) -> None:
    tokens = code_tokens(pool, oauth_keeper, person(pool)[0])
    answers = []
    for _ in range(3):
        answers.append(oauth_refresh(pool, oauth_keeper, tokens["refresh_token"]))
        past_the_reuse_interval()

    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert "refresh_token" not in answer.json()
        assert answer.json()["access_token"] and answer.json()["id_token"]


def test_oauth_revocation_ends_a_non_rotating_sign_in(
    pool: AuthgateServer, oauth_keeper: dict[str, Any]
) -> None:
    tokens = code_tokens(pool, oauth_keeper, person(pool)[0])
    assert oauth_refresh(pool, oauth_keeper, tokens["refresh_token"]).status_code == 200

    revoked = post_form(pool, "/oauth2/revoke", oauth_keeper, token=tokens["refresh_token"])

    assert revoked.status_code == 200
    assert_oauth_error(
        oauth_refresh(pool, oauth_keeper, tokens["refresh_token"]), 400, "invalid_grant"
    )


def test_a_rotating_oauth_client_still_gets_a_new_refresh_token(pool: AuthgateServer) -> None:
    client = web_app(pool)
    tokens = code_tokens(pool, client, person(pool)[0])

    answer = oauth_refresh(pool, client, tokens["refresh_token"])

    assert answer.status_code == 200, answer.text
    assert answer.json()["refresh_token"] != tokens["refresh_token"]


# -- /v1/token/refresh -----------------------------------------------------------------------


def v1_sign_in(http: httpx.Client, client_id: str, email: str) -> dict[str, Any]:
    answer = http.post(
        "/v1/login", json={"username": email, "password": PASSWORD, "client_id": client_id}
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def v1_refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/v1/token/refresh", json={"refresh_token": token})


def test_the_pool_api_keeps_a_non_rotating_clients_refresh_token(
    pool: AuthgateServer, http: httpx.Client, keeper: str
) -> None:
    tokens = v1_sign_in(http, keeper, user(pool))
    answers = []
    for _ in range(3):
        answers.append(v1_refresh(http, tokens["refresh_token"]))
        past_the_reuse_interval()

    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert "refresh_token" not in answer.json()
        assert answer.json()["access_token"]


def test_logout_ends_a_non_rotating_sign_in(
    pool: AuthgateServer, http: httpx.Client, keeper: str
) -> None:
    tokens = v1_sign_in(http, keeper, user(pool))
    assert v1_refresh(http, tokens["refresh_token"]).status_code == 200

    assert http.post("/v1/logout", json={"refresh_token": tokens["refresh_token"]}).is_success

    assert v1_refresh(http, tokens["refresh_token"]).status_code == 401


def test_signing_out_everywhere_ends_a_non_rotating_sign_in(
    pool: AuthgateServer, http: httpx.Client, keeper: str
) -> None:
    tokens = v1_sign_in(http, keeper, user(pool))
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    assert http.post("/v1/logout/all", headers=bearer).is_success

    assert v1_refresh(http, tokens["refresh_token"]).status_code == 401


def test_a_password_change_ends_the_other_non_rotating_sign_ins(
    pool: AuthgateServer, http: httpx.Client, keeper: str
) -> None:
    email = user(pool)
    other = v1_sign_in(http, keeper, email)
    current = v1_sign_in(http, keeper, email)

    changed = http.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"Authorization": f"Bearer {current['access_token']}"},
    )

    assert changed.status_code == 200, changed.text
    assert v1_refresh(http, other["refresh_token"]).status_code == 401


# -- the setting -----------------------------------------------------------------------------


def test_rotation_is_on_unless_the_client_turns_it_off(pool: AuthgateServer) -> None:
    with pool.admin_client() as admin:
        created = admin.post("/admin/clients", json={"client_name": "default-rotation"})
        turned_off = admin.patch(
            f"/admin/clients/{created.json()['client_id']}",
            json={"refresh_token_rotation": False},
        )

    assert created.json()["refresh_token_rotation"] is True
    assert turned_off.status_code == 200, turned_off.text
    assert turned_off.json()["refresh_token_rotation"] is False


def test_turning_rotation_off_keeps_the_newest_refresh_token_of_a_sign_in(
    pool: AuthgateServer, idp: Any
) -> None:
    client_id = new_client(pool, secret=False)[0]
    first = sign_in(idp, client_id, user(pool))
    newest = refresh(idp, client_id, first["RefreshToken"])["RefreshToken"]
    with pool.admin_client() as admin:
        changed = admin.patch(f"/admin/clients/{client_id}", json={"refresh_token_rotation": False})
    assert changed.status_code == 200, changed.text

    assert "RefreshToken" not in refresh(idp, client_id, newest)
    past_the_reuse_interval()
    assert "RefreshToken" not in refresh(idp, client_id, newest)
