"""`POST /authz/allowed`: the policies' decision, for services that ask (Hydra's "warden").

The caller is a service: a client whose own access token (client_credentials) carries
`authgate:decide`, or the operator with the admin token. It asks about someone else, named
either by `subject` (then, when the subject is a user of the pool, that user's current
groups count too) or by `token` (then subject, client and groups come from the verified
token, as the gate sees them). The `context` is exactly what the caller sends: the caller
is not the end user, so nothing of the caller's own connection is added.

No control character is accepted anywhere in the question, context included: `.` in a
pattern or a StringMatch condition does not match a newline (as in Ladon), so
`files:secret\n` would slip past a deny on `files:secret<.*>`.

A `token` that is not a live access token is a decision, not a malformed request: 200 with
`allowed: false` and reason `invalid_token`, as introspection answers `active: false`. The
caller asked a well-formed question, and the answer to "may the bearer of this do X" is no.

Nothing is written per decision; a `subject` costs one read of the user, a `token` what the
gate pays to verify one.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import bearer_token, read_body
from authgate.bootstrap import Services
from authgate.config import DECIDE_SCOPE
from authgate.errors import InvalidRequest, InvalidToken
from authgate.policy.decider import AccessRequest, subjects_for
from authgate.policy.patterns import has_control_character
from authgate.tokens.errors import InsufficientScope

PATH = "/authz/allowed"
NO_STORE = {"Cache-Control": "no-store"}
FIELDS = frozenset({"subject", "token", "action", "resource", "context"})
MAX_NAME = 4096
INVALID_TOKEN = "invalid_token"


async def authenticate_caller(services: Services, token: str) -> None:
    """The admin token, or a client's own live access token with `authgate:decide`; else
    401 or 403. A user's token never qualifies, even from a client granted the scope: it
    would let whoever holds it read every decision about everyone."""
    if hmac.compare_digest(token.encode(), services.admin_token.encode()):
        return
    claims = await services.oauth.inspector.live_access_claims(token)
    if claims is None:
        raise InvalidToken("The access token is invalid, expired or revoked.")
    if DECIDE_SCOPE not in str(claims.get("scope", "")).split():
        raise InsufficientScope(f"The access token does not carry the scope {DECIDE_SCOPE}.")
    if "username" in claims or claims.get("sub") != claims.get("client_id"):
        raise InsufficientScope("Only a client's own token (client_credentials) may ask.")


def subjects_of_token(claims: dict[str, Any]) -> tuple[str, ...]:
    """The names a token's bearer goes by: its sub, its client, its groups as issued."""
    client_id = claims.get("client_id")
    groups = claims.get("groups")
    return subjects_for(
        str(claims["sub"]),
        client_id if isinstance(client_id, str) else None,
        [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else [],
    )


def _name(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{key} must be a non-empty string.", field=key)
    if len(value) > MAX_NAME:
        raise InvalidRequest(f"{key} is longer than {MAX_NAME} characters.", field=key)
    if has_control_character(value):
        raise InvalidRequest(f"{key} must not contain control characters.", field=key)
    return value


def _strings(value: Any) -> Iterator[str]:
    """Every name and string in a JSON value (its depth is bounded by the parser)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield name
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _question(body: dict[str, Any]) -> tuple[str | None, str | None, str, str, dict[str, Any]]:
    """(subject, token, action, resource, context) of a well-formed body, else 400."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field {unknown[0]}.", field=unknown[0])
    if ("subject" in body) == ("token" in body):
        raise InvalidRequest("Give exactly one of subject and token.")
    subject = _name(body, "subject") if "subject" in body else None
    token = _name(body, "token") if "token" in body else None
    context = body.get("context", {})
    if not isinstance(context, dict):
        raise InvalidRequest("context must be an object.", field="context")
    if any(has_control_character(text) for text in _strings(context)):
        raise InvalidRequest("context must not contain control characters.", field="context")
    return subject, token, _name(body, "action"), _name(body, "resource"), context


def _answer(allowed: bool, subject: str | None, reason: str) -> Response:
    return JSONResponse(
        {"allowed": allowed, "subject": subject, "reason": reason}, headers=NO_STORE
    )


async def allowed(request: Request) -> Response:
    """
    summary: May this subject (or the bearer of this token) do this action on this resource?
    security: [{bearer: []}]
    description: >
      Body {subject | token, action, resource, context?}. The caller authenticates with an
      access token carrying authgate:decide, or the admin token. Subject, action and
      resource with a control character are refused (400), as the gate refuses such paths.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/DecisionQuestion'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/DecisionQuestion'}}
    responses:
      200:
        description: The decision.
        content: {application/json: {schema: {$ref: '#/components/schemas/Decision'}}}
      400: {description: invalid_request (with field)}
      401: {description: invalid_token}
      403: {description: insufficient_scope}
    """
    services: Services = request.app.state.services
    await authenticate_caller(services, bearer_token(request))
    subject, token, action, resource, context = _question(await read_body(request))
    started = time.perf_counter()
    if subject is not None:
        decision, _ = await services.policies.check(subject, action, resource, context)
        return _counted(services, started, decision.allowed, subject, decision.reason)
    assert token is not None
    claims = await services.oauth.inspector.live_access_claims(token)
    if claims is None:
        return _counted(services, started, False, None, INVALID_TOKEN)
    sub = str(claims["sub"])
    question = AccessRequest(sub, subjects_of_token(claims), action, resource, context)
    decision = services.policy_cache.decider.decide(question)
    return _counted(services, started, decision.allowed, sub, decision.reason)


def _counted(
    services: Services, started: float, allowed: bool, subject: str | None, reason: str
) -> Response:
    """The answer, once counted by its decision (questions refused as malformed or
    unauthenticated are no decision and are not counted)."""
    seconds = time.perf_counter() - started
    services.metrics.record("policy_decision", "allow" if allowed else "deny", seconds)
    return _answer(allowed, subject, reason)


routes: list[BaseRoute] = [Route(PATH, allowed, methods=["POST"])]
