"""InitiateAuth and GetTokensFromRefreshToken: sign-ins through the pool's own login and
refresh code, answered as Cognito's AuthenticationResult.

`AUTH_FLOWS` is the table of InitiateAuth's flows; the SRP work adds USER_SRP_AUTH to it,
the admin work reuses the flows for AdminInitiateAuth. A flow gets the call and the
AuthParameters, checks the client (SECRET_HASH) itself, since what is hashed differs by
flow, and returns the whole answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from authgate.cognito import handoff, srp
from authgate.cognito.call import Call
from authgate.cognito.clients import existing_client
from authgate.cognito.errors import invalid_parameter
from authgate.cognito.params import CLIENT_ID, CLIENT_SECRET, SECRET_HASH, TOKEN, USERNAME, Shape
from authgate.cognito.shapes import authentication_result
from authgate.cognito.signup_ops import known_user
from authgate.errors import InvalidClient, InvalidToken, NotFound, PasswordChangeRequired
from authgate.tokens.service import TokenSet

AuthFlow = Callable[[Call, dict[str, str]], Awaitable[dict[str, Any]]]
FLOW = Shape(1, 64, r"[A-Z_]+")


def _param(parameters: dict[str, str], name: str, shape: Shape) -> str:
    value = parameters.get(name)
    if value is None:
        raise invalid_parameter(f"Missing required parameter {name}")
    if shape.problem(value) is not None:
        raise invalid_parameter(f"Invalid parameter {name}")
    return value


def _optional(parameters: dict[str, str], name: str, shape: Shape) -> str | None:
    return _param(parameters, name, shape) if name in parameters else None


def signed_in(tokens: TokenSet, *, refresh: bool = True) -> dict[str, Any]:
    """InitiateAuth's answer for a completed sign-in."""
    return {
        "AuthenticationResult": authentication_result(tokens, refresh=refresh),
        "ChallengeParameters": {},
    }


async def user_password_auth(call: Call, parameters: dict[str, str]) -> dict[str, Any]:
    username = _param(parameters, "USERNAME", USERNAME)
    password = _param(parameters, "PASSWORD", Shape(0, 256))
    hash_given = _optional(parameters, "SECRET_HASH", SECRET_HASH)
    client_id = call.params.text("ClientId", CLIENT_ID)
    client = await call.services.clients.for_secret_hash(client_id, username, hash_given)
    if not client.allows("password"):
        raise invalid_parameter("USER_PASSWORD_AUTH flow not enabled for this client")
    await known_user(call, username, "User does not exist.")
    try:
        outcome: object = await call.services.login_flow.login(
            username, password, client.client_id, hash_given, call.caller
        )
    except PasswordChangeRequired as pending:
        return await handoff.challenge(call, client, username, pending)
    if isinstance(outcome, TokenSet):
        return signed_in(outcome)
    return await handoff.challenge(call, client, username, outcome)


async def refresh_token_auth(call: Call, parameters: dict[str, str]) -> dict[str, Any]:
    """REFRESH_TOKEN_AUTH / REFRESH_TOKEN, as Cognito answers it: a client with rotation on
    (authgate's default) gets the new RefreshToken, the presented one being spent; a client
    with `refresh_token_rotation: false` gets none and keeps using the one it has."""
    token = _param(parameters, "REFRESH_TOKEN", TOKEN)
    hash_given = _optional(parameters, "SECRET_HASH", SECRET_HASH)
    client_id = (await existing_client(call)).client_id
    holder = await call.services.tokens.refresh_holder(token)
    if holder is None or holder[1] != client_id:
        raise InvalidToken("The refresh token is invalid.")
    await _check_refresh_hash(call, client_id, holder[0], hash_given)
    tokens = await call.services.tokens.refresh(token, call.caller, client_id=client_id)
    return signed_in(tokens)


async def _check_refresh_hash(call: Call, client_id: str, sub: str, given: str | None) -> None:
    """Cognito hashes the username for a refresh, or the sub where usernames are aliases:
    either is accepted."""
    try:
        user = await call.services.admin.get_user(sub)
    except NotFound:
        raise InvalidToken("The refresh token is no longer valid.") from None
    try:
        await call.services.clients.for_secret_hash(client_id, user.username, given)
    except InvalidClient:
        await call.services.clients.for_secret_hash(client_id, sub, given)


AUTH_FLOWS: dict[str, AuthFlow] = {
    "USER_PASSWORD_AUTH": user_password_auth,
    "REFRESH_TOKEN_AUTH": refresh_token_auth,
    "REFRESH_TOKEN": refresh_token_auth,
    "USER_SRP_AUTH": srp.user_srp_auth,
}


async def initiate_auth(call: Call) -> dict[str, Any]:
    flow_name = call.params.text("AuthFlow", FLOW)
    parameters = call.params.string_map("AuthParameters")
    metadata = call.params.string_map("ClientMetadata")  # for the lifecycle hooks
    flow = AUTH_FLOWS.get(flow_name)
    if flow is None:
        raise invalid_parameter(f"Unsupported auth flow {flow_name}")
    caller = replace(call.caller, client_metadata=tuple(metadata.items()))
    return await flow(replace(call, caller=caller), parameters)


async def get_tokens_from_refresh_token(call: Call) -> dict[str, Any]:
    token = call.params.text("RefreshToken", TOKEN)
    secret = call.params.optional_text("ClientSecret", CLIENT_SECRET)
    call.params.string_map("ClientMetadata")
    client = await existing_client(call)
    client_id = client.client_id
    if client.metadata.has_secret:
        await call.services.clients.authenticate(client_id, secret or "")
    elif secret is not None:
        raise InvalidClient(f"Client {client_id} has no secret.")
    tokens = await call.services.tokens.refresh(token, call.caller, client_id=client_id)
    return signed_in(tokens)
