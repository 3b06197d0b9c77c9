"""Token introspection (RFC 7662).

Only an authenticated confidential client may ask (2.1; a public client could turn the
endpoint into a token-scanning oracle). Any such client may introspect any token, as Ory
Hydra allows: a resource server is a client, and the tokens it receives were issued to
others. A token that is not live is `{"active": false}` and nothing more.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.bootstrap import Services
from authgate.errors import InvalidRequest
from authgate.oauth.client_auth import authenticate_client, read_form
from authgate.oauth.errors import NO_STORE, answers_oauth_errors, method_not_allowed, token_error


@answers_oauth_errors(token_error)
async def introspect(request: Request) -> Response:
    """
    summary: OAuth 2.0 token introspection (RFC 7662).
    requestBody: {content: {application/x-www-form-urlencoded: {}}}
    responses:
      200: {description: "{active: true, scope, client_id, sub, exp, ...} or {active: false}"}
      400: {description: invalid_request}
      401: {description: invalid_client}
    """
    services: Services = request.app.state.services
    form = await read_form(request)
    await authenticate_client(request, form, services.client_auth, allow_public=False)
    token = form.get("token")
    if not token:
        raise InvalidRequest("token is required.", field="token")
    answer = await services.oauth.introspect(token, form.get("token_type_hint"))
    return JSONResponse(answer, headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/oauth2/introspect", introspect, methods=["POST"]),
    Route(
        "/oauth2/introspect",
        method_not_allowed("POST"),
        methods=["GET", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    ),
]
