"""Stages 1-4 for one described request: match -> authenticate -> authorize -> mutate.

The pipeline decides; it forwards nothing and writes no response. Its answer is a Decision
(route match, principal, merged header patch) or one of the typed failures, which each
adapter maps to a status in one table (`gateway.failure_answers`). The built-in proxy and
the forward-auth endpoint run this same code, so they cannot read a request differently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from authgate.gateway.authenticate import (
    AuthContext,
    AuthenticationFailed,
    Authenticator,
    Backends,
    authenticate,
    build_authenticators,
    challenges_for,
)
from authgate.gateway.authorize import AUTHORIZERS, Attempt, Authorizer, Denied
from authgate.gateway.config import GatewaySettings, RouteSettings
from authgate.gateway.mutate import (
    HeaderPatch,
    IdentitySigner,
    MutationContext,
    Mutator,
    build_mutators,
    mutate,
)
from authgate.gateway.paths import normalize_path
from authgate.gateway.policy_authorizer import DeciderSource, PolicyAuthorizer
from authgate.gateway.principal import Principal
from authgate.gateway.ratelimit import Limit, RateLimits, caller_key, client_address
from authgate.gateway.request import GateRequest, check_method, host_name
from authgate.gateway.routes import RouteMatch, RouteTable
from authgate.trusted_peers import TrustedPeers

log = logging.getLogger("authgate.gate")


@dataclass(frozen=True)
class _RoutePlan:
    """What a route's settings mean for every request, worked out once per generation."""

    auth: AuthContext
    mutation: MutationContext
    authorize_kind: str
    authorize_options: Any


@dataclass(frozen=True)
class Decision:
    """Let the request through: to this route, as this principal, with this patch."""

    match: RouteMatch
    principal: Principal
    patch: HeaderPatch


class Pipeline:
    """One configuration's routes and handlers; a reload builds a new one and swaps it."""

    def __init__(
        self,
        settings: GatewaySettings,
        authenticators: Mapping[str, Authenticator],
        mutators: Mapping[str, Mutator],
        authorizers: Mapping[str, Authorizer] | None = None,
        rate_limits: RateLimits | None = None,
        policies: DeciderSource | None = None,
    ) -> None:
        self.settings = settings
        self.table = RouteTable(settings.routes)
        self._authenticators = authenticators
        self._authorizers = authorizers or {
            **AUTHORIZERS,
            "policy": PolicyAuthorizer(policies, settings.trusted_proxies),
        }
        self._mutators = mutators
        self._trusted = TrustedPeers(settings.trusted_proxies)
        self._plans = {id(route): self._plan(route) for route in settings.routes}
        """By identity: these route objects live as long as the pipeline, so no other
        object can share an id with one of them."""
        self.rate_limits = rate_limits if rate_limits is not None else RateLimits()
        """Pass the old pipeline's to a reloaded one, so a reload resets no budget."""

    @classmethod
    def build(
        cls,
        settings: GatewaySettings,
        backends: Backends,
        signer: IdentitySigner,
        rate_limits: RateLimits | None = None,
        policies: DeciderSource | None = None,
    ) -> Pipeline:
        return cls(
            settings,
            build_authenticators(backends),
            build_mutators(signer),
            rate_limits=rate_limits,
            policies=policies,
        )

    def _plan(self, route: RouteSettings) -> _RoutePlan:
        kind = route.authorize.kind
        return _RoutePlan(
            auth=AuthContext(audience=self.audience_of(route)),
            mutation=MutationContext(
                upstream=route.upstream,
                keep_authorization=route.keep_authorization,
                identity_headers=route.identity.headers,
                identity_jwt=route.identity.jwt,
            ),
            authorize_kind=kind,
            authorize_options=getattr(route.authorize, kind),
        )

    def trusts(self, peer: str | None) -> bool:
        """Whether the TCP peer is a configured proxy (none by default)."""
        return self._trusted.trusts(peer)

    def audience_of(self, route: RouteSettings) -> str | None:
        """The `aud` a token must carry here: the route's, else its upstream's, else none."""
        return route.audience or self.settings.upstreams[route.upstream].audience

    def match(self, request: GateRequest, method: str | None = None) -> RouteMatch:
        """Stage 1 alone: the route serving `request` (as if sent with `method`, which a
        CORS preflight names), or NoRoute, MethodNotAllowed, AmbiguousPath, BadGateRequest."""
        method = check_method(method or request.method)
        path = normalize_path(request.raw_path)
        return self.table.match(method, host_name(request.host), path)

    async def principal(
        self, names: Sequence[str], request: GateRequest, audience: str | None = None
    ) -> Principal:
        """Stage 2 alone, with this generation's authenticators (and their caches), for
        adapters that decide without a route (the API Gateway authorizer)."""
        return await authenticate(self._authenticators, names, request, AuthContext(audience))

    async def decide(self, request: GateRequest, match: RouteMatch | None = None) -> Decision:
        """The decision, or NoRoute, MethodNotAllowed, AmbiguousPath, BadGateRequest,
        AuthenticationFailed, RateLimited or Denied. `match`: stage 1's answer, when the
        caller needed it first."""
        match = match or self.match(request)
        route = match.route
        plan = self._plans.get(id(route)) or self._plan(route)
        principal = await authenticate(self._authenticators, route.authenticate, request, plan.auth)
        await self._limit_rate(route, request, principal)
        await self._authorize(route, plan, principal, Attempt(request, match))
        patch = mutate(self._mutators, request, principal, plan.mutation)
        return Decision(match, principal, patch)

    async def _limit_rate(
        self, route: RouteSettings, request: GateRequest, principal: Principal
    ) -> None:
        """Spend the caller's budget on this route; after authentication, so a token's
        subject is the key, and before authorization, so denied calls count too."""
        if route.rate_limit is None:
            return
        address = client_address(
            request.peer, request.values("x-forwarded-for"), self.settings.trusted_proxies
        )
        key = caller_key(route.rate_limit.key, principal, address)
        rate = route.rate_limit.rate
        await self.rate_limits.spend(route.name, key, Limit(rate.count, rate.period))

    async def _authorize(
        self, route: RouteSettings, plan: _RoutePlan, principal: Principal, attempt: Attempt
    ) -> None:
        kind = plan.authorize_kind
        try:
            await self._authorizers[kind](principal, plan.authorize_options, attempt)
        except Denied as denied:
            # ARCHITECTURE: every denial is logged with its reason, route, subject and client.
            log.info(
                "denied reason_id=%s route=%s subject=%s client=%s%s",
                denied.reason_id,
                route.name,
                principal.subject or "-",
                principal.client_id or "-",
                "" if denied.policy is None else f" policy={denied.policy}",
            )
            # Nobody signed in and the route needs someone: ask for credentials (401)
            # rather than refuse (403), so a client knows that signing in may help.
            if kind in ("require", "policy") and principal.is_anonymous:
                raise AuthenticationFailed(
                    None, "Authentication is required.", challenges_for(route.authenticate)
                ) from None
            denied.principal = principal
            raise
