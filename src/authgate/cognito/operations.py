"""The operation table: every Cognito operation authgate serves, in one place.

`X-Amz-Target: AWSCognitoIdentityProviderService.<Name>` picks the entry. A `signed`
operation (the Admin*, List*, Describe* and group ones) runs only after `sigv4.verify`
accepts the request; the others are authorized as Cognito does, by ClientId, AccessToken
or Session, inside their handlers. Each group of operations lives in its own module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from authgate.cognito.call import Call

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
Handler = Callable[[Call], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Operation:
    handler: Handler
    signed: bool = False


OPERATIONS: dict[str, Operation] = {}
"""Name (without TARGET_PREFIX) -> operation."""


def operation_of(target: str | None) -> tuple[str, Operation] | None:
    """The operation an `X-Amz-Target` value names, or None."""
    if target is None or not target.startswith(TARGET_PREFIX):
        return None
    name = target[len(TARGET_PREFIX) :]
    found = OPERATIONS.get(name)
    return (name, found) if found is not None else None
