"""The decision behind `POST /_authgate/aws/authorizer`: API Gateway's Lambda authorizer.

The bearer token is checked by the gate's own authenticators (`jwt`, `introspection`: our
JWKS only, revocation and the user check honoured), through the current pipeline, so the
authorizer can never accept a token the gate would refuse. Then `require` and `policy`
(the `aws_authorizer:` section) decide, as they would on a gate route.

For `policy`, the request is read from the method or route ARN, which API Gateway builds
itself: `{method}` is its verb, `{path}` its path after the verb (`.../GET/orders/42` is
GET `/orders/42`), normalized as the gate normalizes paths. When the ARN names no concrete
request (`$default` route, verb `*`) the event's own method (`httpMethod`,
`requestContext.http.method`) and path (`path`, `rawPath`) are used. `{route}` is
`API_ID/STAGE`, `{host}` the event's `requestContext.domainName`. The policies' context is
`claims`, `route` and `remoteIP` (the event's source IP, when it gives one).

A missing or bad token is `NotAuthenticated` (API Gateway must answer 401); a good token
that may not pass gets an explicit Deny, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from authgate.gateway.authenticate import AuthenticationFailed
from authgate.gateway.authorize import Denied, check_requirements
from authgate.gateway.aws_events import AuthorizerEvent, bearer_of, iam_policy, simple_answer
from authgate.gateway.aws_settings import AwsAuthorizerSettings
from authgate.gateway.paths import AmbiguousPath, normalize_path, split_path
from authgate.gateway.pipeline import Pipeline
from authgate.gateway.policy_authorizer import DeciderSource
from authgate.gateway.principal import Principal
from authgate.gateway.request import BadGateRequest, GateRequest, host_name
from authgate.gateway.templates import MissingInput, RequestFacts, method_verb
from authgate.policy.decider import AccessRequest, subjects_for

log = logging.getLogger("authgate.gate")
GROUPS_SEPARATOR = ","
SCOPES_SEPARATOR = " "


class NotAuthenticated(Exception):
    """No usable token: the Lambda raises `Exception("Unauthorized")`, API Gateway says 401."""

    def __init__(self, reason_id: str) -> None:
        super().__init__(reason_id)
        self.reason_id = reason_id


def context_of(principal: Principal) -> dict[str, str]:
    """What API Gateway passes on as `$context.authorizer.*`: strings only (it refuses
    lists and objects). Groups are comma-joined, scopes space-joined as in `scope`."""
    return {
        "sub": principal.subject or "",
        "username": principal.username or "",
        "client_id": principal.client_id or "",
        "groups": GROUPS_SEPARATOR.join(principal.groups),
        "scopes": SCOPES_SEPARATOR.join(sorted(principal.scopes)),
    }


def allowed(answer: Mapping[str, Any]) -> bool:
    """Whether an answer (either shape) lets the request through."""
    if "isAuthorized" in answer:
        return answer["isAuthorized"] is True
    statements = answer["policyDocument"]["Statement"]
    return all(statement["Effect"] == "Allow" for statement in statements)


class AwsAuthorizer:
    """One configuration's authorizer; the pipeline is passed per call, as it changes on
    every gateway reload."""

    def __init__(self, settings: AwsAuthorizerSettings, policies: DeciderSource | None) -> None:
        self.settings = settings
        self._policies = policies

    async def answer(self, event: AuthorizerEvent, pipeline: Pipeline) -> dict[str, Any]:
        """API Gateway's answer to `event`, or NotAuthenticated."""
        principal = await self._principal(event, pipeline)
        context = context_of(principal)
        try:
            self._decide(event, principal)
        except Denied as denied:
            log.info(
                "denied reason_id=%s route=aws:%s/%s subject=%s client=%s%s",
                denied.reason_id,
                event.arn.api_id,
                event.arn.stage,
                principal.subject or "-",
                principal.client_id or "-",
                "" if denied.policy is None else f" policy={denied.policy}",
            )
            return self._shaped(event, principal, False, {**context, "reason": denied.reason_id})
        return self._shaped(event, principal, True, context)

    async def _principal(self, event: AuthorizerEvent, pipeline: Pipeline) -> Principal:
        if event.repeated:
            raise NotAuthenticated("repeated_token")
        token = bearer_of(event.credential or "")
        if not token:
            raise NotAuthenticated("missing_token")
        request = GateRequest(
            method=event.method or "GET",
            scheme="https",
            host="",
            raw_path="/",
            query="",
            headers=(("authorization", f"Bearer {token}"),),
        )
        try:
            return await pipeline.principal(
                self.settings.authenticate, request, self.settings.audience
            )
        except AuthenticationFailed as failed:
            raise NotAuthenticated(failed.error or "missing_token") from None

    def _decide(self, event: AuthorizerEvent, principal: Principal) -> None:
        if self.settings.require is not None:
            check_requirements(principal, self.settings.require)
        if self.settings.policy is not None:
            self._ask_policies(event, principal)

    def _ask_policies(self, event: AuthorizerEvent, principal: Principal) -> None:
        options = self.settings.policy
        assert options is not None
        if self._policies is None:
            raise Denied("policy_unavailable", "No policies are loaded in this process.")
        concrete = event.arn.verb not in (None, "*")
        method = event.arn.verb if concrete else event.method
        raw_path = event.arn.path if event.arn.verb is not None else event.path
        if not method or not raw_path:
            raise Denied("policy_input_missing", "The event names no method or no path.")
        try:
            path = normalize_path(raw_path)
            host = host_name(event.host)
        except (AmbiguousPath, BadGateRequest):
            raise Denied("ambiguous_path", "The event's path or host is ambiguous.") from None
        method = method.upper()
        route = f"{event.arn.api_id}/{event.arn.stage}"
        facts = RequestFacts(
            method="GET" if method == "HEAD" else method,
            method_verb=method_verb(method, options.methods),
            path=path,
            segments=tuple(split_path(path)),
            host=host,
            route=route,
            sub=principal.subject,
            client=principal.client_id,
        )
        try:
            action = options.action_template.render(facts)
            resource = options.resource_template.render(facts)
        except MissingInput as missing:
            raise Denied(
                "policy_input_missing", f"The request has no value for {{{missing.placeholder}}}."
            ) from None
        context: dict[str, Any] = {"claims": dict(principal.claims), "route": route}
        if event.source_ip is not None:
            context["remoteIP"] = event.source_ip
        question = AccessRequest(
            subject=principal.subject or principal.client_id or "",
            subjects=subjects_for(principal.subject, principal.client_id, principal.groups),
            action=action,
            resource=resource,
            context=context,
        )
        decision = self._policies.decider.decide(question)
        if not decision.allowed:
            reason = "The policies do not allow this request."
            raise Denied("policy_denied", reason, decision.reason)

    def _shaped(
        self,
        event: AuthorizerEvent,
        principal: Principal,
        allow: bool,
        context: Mapping[str, str],
    ) -> dict[str, Any]:
        """The simple response for payload 2.0 (unless configured for IAM), else IAM."""
        if event.kind == "REQUEST_V2" and self.settings.http_api_response == "simple":
            return simple_answer(allow, context)
        resource = (
            event.arn.stage_wildcard if self.settings.resource == "wildcard" else event.arn_text
        )
        principal_id = principal.subject or principal.client_id or "anonymous"
        return iam_policy(principal_id, allow, resource, context)
