"""USER_SRP_AUTH (InitiateAuth) and its PASSWORD_VERIFIER answer (RespondToAuthChallenge):
Cognito's SRP sign-in, the default of Amplify, amazon-cognito-identity-js and pycognito.

The arithmetic and every rule are in `identity/srp.py` and `identity/srp_signin.py`; this
reads Cognito's parameters, checks the client (SECRET_HASH of USERNAME, where the client
has a secret) and hands a proven password to `next_step`.
"""

from __future__ import annotations

from typing import Any

from authgate.cognito.call import Call
from authgate.cognito.errors import invalid_parameter
from authgate.cognito.next_step import after_password, optional_parameter, parameter
from authgate.cognito.params import CLIENT_ID, SECRET_HASH, USERNAME, Shape
from authgate.cognito.signup_ops import known_user
from authgate.identity.signin import CheckedPassword
from authgate.identity.srp_signin import PASSWORD_VERIFIER

SRP_A = Shape(1, 1024)
CLAIM = Shape(1, 2048)


async def user_srp_auth(call: Call, parameters: dict[str, str]) -> dict[str, Any]:
    username = parameter(parameters, "USERNAME", USERNAME)
    srp_a = parameter(parameters, "SRP_A", SRP_A)
    hash_given = optional_parameter(parameters, "SECRET_HASH", SECRET_HASH)
    client_id = call.params.text("ClientId", CLIENT_ID)
    client = await call.services.clients.for_secret_hash(client_id, username, hash_given)
    if not client.allows("password"):
        raise invalid_parameter("USER_SRP_AUTH flow not enabled for this client")
    await known_user(call, username, "User does not exist.")
    reveal = not call.settings.prevent_user_existence_errors
    challenge = await call.services.srp.start(
        username, srp_a, client.client_id, call.caller, reveal_unknown=reveal
    )
    return {"ChallengeName": PASSWORD_VERIFIER, "ChallengeParameters": challenge.parameters()}


async def password_verifier(
    call: Call, client_id: str, responses: dict[str, str], session: str | None
) -> dict[str, Any]:
    """PASSWORD_VERIFIER: the claim signature over SECRET_BLOCK and TIMESTAMP (no Session:
    the secret block is the exchange's single-use handle)."""
    username = parameter(responses, "USERNAME", USERNAME)
    for name in ("PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP"):
        parameter(responses, name, CLAIM)
    hash_given = optional_parameter(responses, "SECRET_HASH", SECRET_HASH)
    client = await call.services.clients.for_secret_hash(client_id, username, hash_given)
    if not client.allows("password"):
        raise invalid_parameter("USER_SRP_AUTH flow not enabled for this client")
    user = await call.services.srp.finish(responses, client.client_id, call.caller)
    return await after_password(call, client, CheckedPassword(user, None))
