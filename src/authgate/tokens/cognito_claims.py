"""Cognito's claim names, added to the tokens of the pool's own sign-ins.

Code written against Cognito reads `cognito:groups`, `cognito:username`, `origin_jti`,
`event_id` and the `aws.cognito.signin.user.admin` scope; authgate's own names (`groups`,
`username`, `token_use`, `client_id`, `auth_time`, `jti`) stay, so the gate, `/v1/me` and
the decision API read every token the same way, whichever API issued it.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from authgate.store.records import UserRecord

POOL_SCOPE = "aws.cognito.signin.user.admin"
"""Cognito's scope for calling the user pool API about oneself (GetUser, ChangePassword...)."""


def with_pool_scope(scope: str) -> str:
    """`scope` with POOL_SCOPE first (once): what a password, passkey or Cognito sign-in
    grants on top of the client's scopes."""
    rest = [s for s in scope.split() if s != POOL_SCOPE]
    return " ".join([POOL_SCOPE, *rest])


def _derived_id(label: bytes, family_id: str) -> str:
    """A stable UUID for one sign-in that does not reveal its refresh family's id."""
    return str(uuid.UUID(bytes=hashlib.sha256(label + family_id.encode()).digest()[:16]))


def sign_in_claims(family_id: str) -> dict[str, str]:
    """`origin_jti` and `event_id`: the same for every token of one sign-in."""
    return {
        "origin_jti": _derived_id(b"authgate origin_jti\x00", family_id),
        "event_id": _derived_id(b"authgate event_id\x00", family_id),
    }


def group_claims(user: UserRecord) -> dict[str, Any]:
    """`cognito:groups`, present (as in Cognito) only when the user is in a group."""
    return {"cognito:groups": list(user.groups)} if user.groups else {}


def id_token_claims(user: UserRecord) -> dict[str, Any]:
    """What Cognito's ID token adds: its username claim, groups and custom attributes."""
    custom = {k: v for k, v in user.attributes.items() if k.startswith("custom:")}
    return {"cognito:username": user.username, **group_claims(user), **custom}
