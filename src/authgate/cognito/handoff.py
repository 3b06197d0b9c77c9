"""Where InitiateAuth hands a sign-in that needs a second step to the challenge code.

A password was right but the sign-in is not complete: `pending` says why. An invited
user (PasswordChangeRequired) gets NEW_PASSWORD_REQUIRED with a Session; a second factor
due (the MFA domain's `Challenge`) gets SOFTWARE_TOKEN_MFA or MFA_SETUP; anything else is
refused (fail closed), never completed without its step.
"""

from __future__ import annotations

from typing import Any

from authgate.clients.registry import Client
from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError
from authgate.cognito.next_step import mfa_challenge, new_password_challenge
from authgate.errors import InvalidCredentials, PasswordChangeRequired
from authgate.identity.challenges import Challenge


async def challenge(call: Call, client: Client, username: str, pending: object) -> dict[str, Any]:
    """The answer for a sign-in whose password was right but that is not complete."""
    if isinstance(pending, PasswordChangeRequired):
        user = await call.services.admin.get_by_username(username)
        if user.status != "force_change_password":
            raise InvalidCredentials()
        return await new_password_challenge(call, client, user)
    if isinstance(pending, Challenge):
        user = await call.services.admin.get_by_username(username)
        return mfa_challenge(user, pending)
    raise CognitoError(
        "NotAuthorizedException", "This sign-in needs a challenge that is not served yet."
    )
