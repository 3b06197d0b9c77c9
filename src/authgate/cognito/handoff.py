"""Where InitiateAuth hands a sign-in that needs a second step to the challenge code.

Owned by the SRP and challenges work (branch t11-srp, modules cognito/srp.py,
cognito/challenges.py, cognito/mfa_ops.py): it replaces the body of `challenge` with a
call into cognito/challenges.py that opens a `Session` and answers with
`{ChallengeName, Session, ChallengeParameters}`. Until then a sign-in that needs a
challenge is refused (fail closed), never completed without it.
"""

from __future__ import annotations

from typing import Any

from authgate.clients.registry import Client
from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError


async def challenge(call: Call, client: Client, username: str, pending: object) -> dict[str, Any]:
    """The answer for a sign-in whose password was right but that is not complete:
    `pending` is the domain's reason (PasswordChangeRequired: NEW_PASSWORD_REQUIRED; after
    the MFA work, its `Challenge`: SOFTWARE_TOKEN_MFA, MFA_SETUP, SELECT_MFA_TYPE)."""
    raise CognitoError(
        "NotAuthorizedException", "This sign-in needs a challenge that is not served yet."
    )
