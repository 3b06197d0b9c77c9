"""A pre_token hook's change to one token's claims, and the claims no hook may touch.

The change applies to the token being issued only (nothing about the user is stored). A
change to a claim that the token's checks or its binding rest on (issuer, subject,
audience, lifetimes, ids, type, scope, nonce, confirmation...) is dropped and logged, so
a hook can decorate a token but never make it pass for another one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from authgate.clients.registry import Client
from authgate.store.records import UserRecord

log = logging.getLogger("authgate.hooks")

RESERVED_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "token_use",
        "scope",
        "auth_time",
        "nonce",
        "azp",
        "client_id",
        "kid",
        "alg",
        "typ",
        "cnf",
        "at_hash",
        "c_hash",
        "amr",
        "acr",
        "username",
        "cognito:username",
        "origin_jti",
        "event_id",
        "sid",
    }
)
"""Claims a hook may neither add, override nor suppress."""

GROUP_CLAIMS = ("groups", "cognito:groups")
MAX_GROUPS = 100


@dataclass(frozen=True)
class ClaimsChange:
    """What a pre_token hook asked for: claims to add or override, claims to suppress,
    groups to add and to remove (both group claims follow)."""

    add: Mapping[str, Any] = field(default_factory=dict)
    suppress: Sequence[str] = ()
    groups_add: Sequence[str] = ()
    groups_remove: Sequence[str] = ()

    def apply(self, claims: dict[str, Any], *, group_claims: bool = True) -> dict[str, Any]:
        """`claims` with the change made (a new dict); reserved claims are kept as they
        were and each refused change is logged. `group_claims`: whether this token
        carries groups at all (an OIDC ID token without them gains none)."""
        result = dict(claims)
        refused = sorted(
            {k for k in self.add if k in RESERVED_CLAIMS or k in GROUP_CLAIMS}
            | {k for k in self.suppress if k in RESERVED_CLAIMS}
        )
        if refused:
            log.warning("pre_token change of reserved claims dropped: %s", ", ".join(refused))
        for name in self.suppress:
            if name not in RESERVED_CLAIMS:
                result.pop(name, None)
        for name, value in self.add.items():
            if name not in RESERVED_CLAIMS and name not in GROUP_CLAIMS:
                result[name] = value
        if group_claims and (self.groups_add or self.groups_remove):
            current = result.get("groups", result.get("cognito:groups", []))
            groups = [g for g in current if g not in self.groups_remove]
            groups += [g for g in self.groups_add if g not in groups]
            groups = groups[:MAX_GROUPS]
            if "groups" in result or groups:
                result["groups"] = groups
            if groups:
                result["cognito:groups"] = list(groups)
            else:
                result.pop("cognito:groups", None)
        return result

    @property
    def empty(self) -> bool:
        return not (self.add or self.suppress or self.groups_add or self.groups_remove)


NO_CHANGE = ClaimsChange()


class TokenHook(Protocol):
    """Asked before a user's tokens are signed (the pre_token lifecycle hook). `trigger`
    is how the tokens come: `authentication`, `refresh_tokens` or `hosted_auth`. Raises
    a domain error when the tokens must not be issued."""

    async def pre_token(
        self, user: UserRecord, client: Client, claims: Mapping[str, Any], trigger: str
    ) -> ClaimsChange: ...


class NoTokenHook:
    """No pre_token hook configured: every token as the service made it."""

    async def pre_token(
        self, user: UserRecord, client: Client, claims: Mapping[str, Any], trigger: str
    ) -> ClaimsChange:
        return NO_CHANGE
