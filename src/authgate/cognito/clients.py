"""`ClientId` and `SecretHash` / `SECRET_HASH`, read and checked as Cognito does."""

from __future__ import annotations

from authgate.clients.registry import Client
from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError
from authgate.cognito.params import CLIENT_ID, SECRET_HASH


async def client_of(call: Call, username: str, hash_given: str | None) -> Client:
    """The call's `ClientId`, its secret hash of `username` checked (see
    `ClientRegistry.for_secret_hash`)."""
    client_id = call.params.text("ClientId", CLIENT_ID)
    return await call.services.clients.for_secret_hash(client_id, username, hash_given)


def secret_hash_member(call: Call) -> str | None:
    """The top-level `SecretHash` member (SignUp, ConfirmSignUp, ForgotPassword, ...)."""
    return call.params.optional_text("SecretHash", SECRET_HASH)


async def existing_client(call: Call) -> Client:
    """The call's `ClientId` when no secret hash is due (refresh, revoke): it must exist."""
    client_id = call.params.text("ClientId", CLIENT_ID)
    client = await call.services.clients.lookup(client_id)
    if client is None:
        raise CognitoError(
            "ResourceNotFoundException", f"User pool client {client_id} does not exist."
        )
    return client
