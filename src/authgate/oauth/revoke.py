"""Token revocation (RFC 7009).

A confidential client authenticates; a public client names itself with `client_id`
(2.1 allows it, and a browser app must be able to sign out). Unknown or already dead
tokens answer 200 like a revocation (2.2); `token_type_hint` is only a hint, so an
unknown value is ignored rather than refused.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.bootstrap import Services
from authgate.errors import InvalidRequest
from authgate.oauth.client_auth import authenticate_client, read_form
from authgate.oauth.errors import NO_STORE, answers_oauth_errors, method_not_allowed, token_error


@answers_oauth_errors(token_error)
async def revoke(request: Request) -> Response:
    """
    summary: OAuth 2.0 token revocation (RFC 7009).
    requestBody: {content: {application/x-www-form-urlencoded: {}}}
    responses:
      200: {description: Revoked, or nothing to revoke.}
      400: {description: "invalid_request, unauthorized_client (a live token of another client)"}
      401: {description: invalid_client}
    """
    services: Services = request.app.state.services
    form = await read_form(request)
    client = await authenticate_client(request, form, services.client_auth, allow_public=True)
    token = form.get("token")
    if not token:
        raise InvalidRequest("token is required.", field="token")
    await services.oauth.revoke(client, token, caller_of(request))
    return Response(status_code=200, headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/oauth2/revoke", revoke, methods=["POST"]),
    Route(
        "/oauth2/revoke",
        method_not_allowed("POST"),
        methods=["GET", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    ),
]
