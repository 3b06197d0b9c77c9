"""The token endpoint (RFC 6749 3.2, 4.1.3, 4.4, 6).

POST with a form only. The grant type is checked first (an unknown one needs no client to
be refused), then the client is authenticated, then the grant runs. Every answer, success
or error, carries `Cache-Control: no-store` and `Pragma: no-cache` (5.1).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.bootstrap import Services
from authgate.errors import InvalidRequest
from authgate.oauth.client_auth import authenticate_client, read_form
from authgate.oauth.errors import NO_STORE, answers_oauth_errors, method_not_allowed, token_error
from authgate.tokens.errors import UnsupportedGrantType

GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")


@answers_oauth_errors(token_error)
async def token(request: Request) -> Response:
    """
    summary: OAuth 2.0 token endpoint (authorization_code, client_credentials, refresh_token).
    requestBody: {content: {application/x-www-form-urlencoded: {}}}
    responses:
      200: {description: "{access_token, token_type, expires_in, scope, refresh_token?, id_token?}"}
      400:
        description: >-
          invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type,
          invalid_scope
      401: {description: invalid_client}
    """
    services: Services = request.app.state.services
    form = await read_form(request)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required.", field="grant_type")
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantType(f"grant_type {str(grant_type)[:64]!r} is not supported.")
    oauth = services.oauth
    client = await authenticate_client(request, form, services.client_auth, allow_public=True)
    caller = caller_of(request)
    if grant_type == "client_credentials":
        answer = await oauth.client_credentials(client, form.get("scope"), caller)
    elif grant_type == "authorization_code":
        answer = await oauth.authorization_code(
            client,
            code=form.get("code"),
            redirect_uri=form.get("redirect_uri"),
            code_verifier=form.get("code_verifier"),
            caller=caller,
        )
    else:
        answer = await oauth.refresh(
            client, refresh_token=form.get("refresh_token"), scope=form.get("scope"), caller=caller
        )
    return JSONResponse(answer.as_json(), headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/oauth2/token", token, methods=["POST"]),
    Route(
        "/oauth2/token",
        method_not_allowed("POST"),
        methods=["GET", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    ),
]
