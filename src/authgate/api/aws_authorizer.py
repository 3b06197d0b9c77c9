"""`POST /_authgate/aws/authorizer`: API Gateway's Lambda-authorizer event in, its answer out.

The caller is the Lambda function (examples/aws/lambda_authorizer.py), authenticated as a
decision-API caller: a client's own client_credentials token with `authgate:decide` (or
the admin token), checked before the body is read; without it 401, with the wrong one 403,
each with `WWW-Authenticate`. Then, as JSON with `Cache-Control: no-store`:

- 200: the answer API Gateway expects, to be returned by the Lambda as it is (an IAM
  policy, Allow or Deny; for payload 2.0 by default `{isAuthorized, context}`);
- 401 `{"error": "unauthenticated", "reason_id", "message": "Unauthorized"}`, without
  `WWW-Authenticate`: the event's own token is missing or bad, so the Lambda raises
  `Exception("Unauthorized")`, which API Gateway turns into 401;
- 400 `{"error": "invalid_event", "reason_id", "message"}`: not an authorizer event
  (reason_id `bad_type`, `bad_version`, `bad_arn`, `bad_field`); not JSON at all is
  `invalid_request`, as everywhere in the API;
- 404 `{"error": "not_configured"}` when the configuration has no `aws_authorizer:`.

Nothing of the event's token is logged; a denial logs its reason, API, subject and client.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.api.decide import authenticate_caller
from authgate.api.requests import bearer_token, read_body
from authgate.bootstrap import Services
from authgate.gateway.aws_authorizer import AwsAuthorizer, NotAuthenticated, allowed
from authgate.gateway.aws_events import BadEvent, parse_event

PATH = "/_authgate/aws/authorizer"
NO_STORE = {"Cache-Control": "no-store"}
UNAUTHENTICATED = "unauthenticated"


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, headers=NO_STORE)


async def authorizer(request: Request) -> Response:
    """
    summary: API Gateway's Lambda-authorizer event in, the answer API Gateway expects out.
    security: [{bearer: []}]
    description: >
      The caller authenticates like a decision-API caller (a client's own token with
      authgate:decide, or the admin token). The body is a REST API TOKEN or REQUEST event
      (payload 1.0) or an HTTP API payload 2.0 event, as API Gateway sends it. See
      docs/aws.md.
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [type]
            additionalProperties: true
            properties:
              type: {type: string, enum: [TOKEN, REQUEST]}
              version: {type: string, enum: ["1.0", "2.0"]}
              authorizationToken: {type: string}
              methodArn: {type: string}
              routeArn: {type: string}
    responses:
      200:
        description: >
          An IAM policy {principalId, policyDocument, context} or, for payload 2.0, the
          simple response {isAuthorized, context}; Allow or Deny inside.
        content:
          application/json:
            schema: {type: object, additionalProperties: true}
      400:
        description: invalid_event (with reason_id), invalid_request (not JSON)
        content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
      401:
        description: >
          unauthenticated (no WWW-Authenticate): the event's token is missing or bad, the
          Lambda raises Unauthorized; unauthorized or invalid_token: the caller's token
        content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
      403:
        description: insufficient_scope (the caller's token)
        content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
      404:
        description: not_configured (no aws_authorizer section)
        content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
      413:
        description: body_too_large
        content: {application/json: {schema: {$ref: '#/components/schemas/Error'}}}
    """
    services: Services = request.app.state.services
    await authenticate_caller(services, bearer_token(request))
    settings = services.settings.aws_authorizer
    if settings is None:
        return _json(
            {"error": "not_configured", "message": "The aws_authorizer section is not set."},
            404,
        )
    body = await read_body(request, allow_form=False)
    try:
        event = parse_event(body, settings.token_source)
    except BadEvent as bad:
        return _json(
            {"error": "invalid_event", "reason_id": bad.code, "message": bad.description}, 400
        )
    decider = AwsAuthorizer(settings, services.policy_cache)
    started = time.perf_counter()
    try:
        answer = await decider.answer(event, services.gateway.pipeline)
    except NotAuthenticated as missing:
        _count(services, started, UNAUTHENTICATED)
        return _json(
            {"error": UNAUTHENTICATED, "reason_id": missing.reason_id, "message": "Unauthorized"},
            401,
        )
    _count(services, started, "allow" if allowed(answer) else "deny")
    return _json(answer)


def _count(services: Services, started: float, outcome: str) -> None:
    services.metrics.record("aws_authorizer", outcome, time.perf_counter() - started)


routes: list[BaseRoute] = [
    Route(PATH, authorizer, methods=["POST"]),
]
