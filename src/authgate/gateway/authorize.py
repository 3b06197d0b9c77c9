"""Stage 3: may this principal make this request. A registry of named authorizers.

An authorizer returns to allow or raises Denied with a stable `reason_id`, which the gate
logs with route, subject and client and answers in the 403 body. Claim equality is exact
and type-sensitive (`true` is not `"true"`, `1` is not `true`): a claim an upstream reads
as a boolean must be a boolean.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from authgate.gateway.principal import Principal
from authgate.gateway.request import GateRequest
from authgate.gateway.routes import RouteMatch
from authgate.tokens.amr import is_multi_factor


class Denied(Exception):
    """403: the principal is known and may not do this.

    `policy` names the deciding policy (or `no_match`) for the log line only: policy ids
    are the operator's business, not the caller's.
    """

    def __init__(self, reason_id: str, description: str, policy: str | None = None) -> None:
        super().__init__(description)
        self.reason_id = reason_id
        self.description = description
        self.policy = policy
        self.principal: Principal | None = None
        """Who was refused, set by the pipeline for the access log."""


@dataclass(frozen=True)
class Attempt:
    """What the principal is trying: the request as described, and the route it matched."""

    request: GateRequest
    match: RouteMatch


class Requirements(Protocol):
    """The `require` options, as the route configuration validated them."""

    @property
    def scopes_any(self) -> Collection[str]: ...

    @property
    def scopes_all(self) -> Collection[str]: ...

    @property
    def groups_any(self) -> Collection[str]: ...

    @property
    def claims(self) -> Mapping[str, Any]: ...

    @property
    def mfa(self) -> bool: ...


Authorizer = Callable[[Principal, Any, Attempt], Awaitable[None]]


def same_value(expected: Any, actual: Any) -> bool:
    """JSON equality that also compares types, at every depth."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(
            same_value(expected[k], actual[k]) for k in expected
        )
    if isinstance(expected, list | tuple):
        return len(expected) == len(actual) and all(
            same_value(e, a) for e, a in zip(expected, actual, strict=True)
        )
    return bool(expected == actual)


async def allow(principal: Principal, options: Any, attempt: Attempt) -> None:
    """Every authenticated principal (and the anonymous one, where the route takes it)."""


async def deny(principal: Principal, options: Any, attempt: Attempt) -> None:
    raise Denied("route_denies", "This route refuses every request.")


async def require(principal: Principal, options: Requirements, attempt: Attempt) -> None:
    """Every listed condition must hold; each failure names the first thing missing."""
    check_requirements(principal, options)


def check_requirements(principal: Principal, options: Requirements) -> None:
    """`require` for any adapter: the request itself plays no part."""
    if options.scopes_any and principal.scopes.isdisjoint(options.scopes_any):
        raise Denied("scope_missing", "The token carries none of the scopes this route accepts.")
    missing = [s for s in options.scopes_all if s not in principal.scopes]
    if missing:
        raise Denied("scope_missing", f"The token lacks the scope {missing[0]}.")
    if options.groups_any and set(principal.groups).isdisjoint(options.groups_any):
        raise Denied("group_missing", "The caller is in none of the groups this route accepts.")
    for name, expected in options.claims.items():
        if name not in principal.claims or not same_value(expected, principal.claims[name]):
            raise Denied("claim_mismatch", f"The claim {name} does not have the required value.")
    if options.mfa and not is_multi_factor(principal.claims.get("amr")):
        raise Denied("mfa_required", "This route needs a sign-in with a second factor.")


AUTHORIZERS: dict[str, Authorizer] = {"allow": allow, "deny": deny, "require": require}
"""The stateless authorizers; `policy` needs the decider, so each Pipeline adds its own
(`gateway.policy_authorizer`)."""
