"""The gate's `policy` authorizer: the route's templates turn a request into (action,
resource), and the current compiled policies decide.

The decider is read from its source on every request, so a policy change (seen by the
policy cache within a second) applies to the next request without a gateway reload.
The context a policy's conditions see is `remoteIP` (the TCP peer, or the address a
trusted proxy reports in X-Forwarded-For), `claims` (the principal's token claims) and
`route` (the route's name). A denial's reason_id is `policy_denied` whether a deny policy
decided or nothing allowed; which of the two, and the policy id, go to the log only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Protocol

from authgate.gateway.authorize import Attempt, Denied
from authgate.gateway.paths import split_path
from authgate.gateway.principal import Principal
from authgate.gateway.ratelimit import client_address
from authgate.gateway.request import host_name
from authgate.gateway.route_options import PolicySettings
from authgate.gateway.templates import MissingInput, RequestFacts, method_verb
from authgate.policy.decider import AccessRequest, Decider, subjects_for

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DeciderSource(Protocol):
    """Whatever holds the current compiled policies (the policy cache)."""

    @property
    def decider(self) -> Decider: ...


def request_facts(principal: Principal, attempt: Attempt, options: PolicySettings) -> RequestFacts:
    """What the templates may name; HEAD counts as GET, as everywhere in the gate."""
    method = attempt.request.method.upper()
    path = attempt.match.path
    return RequestFacts(
        method="GET" if method == "HEAD" else method,
        method_verb=method_verb(method, options.methods),
        path=path,
        segments=tuple(split_path(path)),
        host=host_name(attempt.request.host),
        route=attempt.match.route.name,
        sub=principal.subject,
        client=principal.client_id,
    )


class PolicyAuthorizer:
    """Registered as `policy`; without a decider source every request is denied."""

    def __init__(self, policies: DeciderSource | None, trusted_proxies: Sequence[Network]) -> None:
        self._policies = policies
        self._trusted = tuple(trusted_proxies)

    def access_request(
        self, principal: Principal, options: PolicySettings, attempt: Attempt
    ) -> AccessRequest:
        """The question for the decider; Denied `policy_input_missing` when a template
        names something this request does not have."""
        facts = request_facts(principal, attempt, options)
        try:
            action = options.action_template.render(facts)
            resource = options.resource_template.render(facts)
        except MissingInput as missing:
            raise Denied(
                "policy_input_missing",
                f"The request has no value for {{{missing.placeholder}}}.",
            ) from None
        request = attempt.request
        return AccessRequest(
            subject=principal.subject or principal.client_id or "",
            subjects=subjects_for(principal.subject, principal.client_id, principal.groups),
            action=action,
            resource=resource,
            context={
                "remoteIP": client_address(
                    request.peer, request.values("x-forwarded-for"), self._trusted
                ),
                "claims": dict(principal.claims),
                "route": attempt.match.route.name,
            },
        )

    async def __call__(
        self, principal: Principal, options: PolicySettings, attempt: Attempt
    ) -> None:
        if self._policies is None:
            raise Denied("policy_unavailable", "No policies are loaded in this process.")
        question = self.access_request(principal, options, attempt)
        decision = self._policies.decider.decide(question)
        if not decision.allowed:
            raise Denied(
                "policy_denied", "The policies do not allow this request.", decision.reason
            )
