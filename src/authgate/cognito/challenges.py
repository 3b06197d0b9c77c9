"""RespondToAuthChallenge and AdminRespondToAuthChallenge: the second step of a sign-in.

`CHALLENGES` is the table of the challenges served; each responder gets the call, the
ClientId, the ChallengeResponses and the Session, checks the client itself (SECRET_HASH
of USERNAME, where the client has a secret) and returns the whole answer: tokens, or the
next challenge. A Session is opaque and single use, bound to the user and the client,
and lives three minutes (`identity/auth_sessions.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from authgate.cognito import mfa_ops, srp
from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError, invalid_parameter
from authgate.cognito.next_step import (
    ATTRIBUTE_PREFIX,
    MFA_SETUP,
    NEW_PASSWORD_REQUIRED,
    SOFTWARE_TOKEN_MFA,
    after_password,
    new_password_step,
    optional_parameter,
    parameter,
)
from authgate.cognito.params import CLIENT_ID, PASSWORD, SECRET_HASH, SESSION, USERNAME, Shape
from authgate.cognito.shapes import typed_attributes
from authgate.errors import InvalidSession
from authgate.identity.srp_signin import PASSWORD_VERIFIER

Responder = Callable[[Call, str, dict[str, str], str | None], Awaitable[dict[str, Any]]]
CHALLENGE_NAME = Shape(1, 64, r"[A-Z_]+")
POOL_ID = Shape(1, 55, r"[\w-]+_[0-9a-zA-Z]+")


async def new_password_required(
    call: Call, client_id: str, responses: dict[str, str], session: str | None
) -> dict[str, Any]:
    username = parameter(responses, "USERNAME", USERNAME)
    new_password = parameter(responses, "NEW_PASSWORD", PASSWORD)
    hash_given = optional_parameter(responses, "SECRET_HASH", SECRET_HASH)
    client = await call.services.clients.for_secret_hash(client_id, username, hash_given)
    if session is None:
        raise InvalidSession()
    given = {
        name[len(ATTRIBUTE_PREFIX) :]: value
        for name, value in responses.items()
        if name.startswith(ATTRIBUTE_PREFIX)
    }
    attributes = typed_attributes(call.services.users.attributes, given)
    checked = await new_password_step(call).answer(
        session, client.client_id, username, new_password, attributes, call.caller
    )
    return await after_password(call, client, checked)


CHALLENGES: dict[str, Responder] = {
    PASSWORD_VERIFIER: srp.password_verifier,
    NEW_PASSWORD_REQUIRED: new_password_required,
    SOFTWARE_TOKEN_MFA: mfa_ops.software_token_mfa,
    MFA_SETUP: mfa_ops.mfa_setup,
}


async def _respond(call: Call) -> dict[str, Any]:
    client_id = call.params.text("ClientId", CLIENT_ID)
    name = call.params.text("ChallengeName", CHALLENGE_NAME)
    responses = call.params.string_map("ChallengeResponses")
    session = call.params.optional_text("Session", SESSION)
    call.params.string_map("ClientMetadata")
    responder = CHALLENGES.get(name)
    if responder is None:
        raise invalid_parameter(f"Unsupported challenge {name}")
    return await responder(call, client_id, responses, session)


async def respond_to_auth_challenge(call: Call) -> dict[str, Any]:
    return await _respond(call)


async def admin_respond_to_auth_challenge(call: Call) -> dict[str, Any]:
    """The same answers, signed (SigV4), for a pool named by UserPoolId."""
    pool_id = call.params.text("UserPoolId", POOL_ID)
    if pool_id != call.settings.user_pool_id:
        raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
    return await _respond(call)
