"""AWS Signature Version 4 for the administrator operations.

Owned by the Cognito admin work (branch t11-admin): this stub refuses every signed call,
so no administrator operation can run before the real verifier lands (fail closed).
"""

from __future__ import annotations

from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError


async def verify(call: Call) -> None:
    """Accept the call if it carries a valid signature by one of `cognito.access_keys`;
    otherwise raise CognitoError (UnrecognizedClientException, InvalidSignatureException,
    AccessDeniedException)."""
    raise CognitoError(
        "UnrecognizedClientException", "The security token included in the request is invalid."
    )
