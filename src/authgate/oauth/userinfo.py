"""UserInfo (OIDC Core 5.3): the signed-in user's claims, as far as the token's scopes go.

The access token comes in the Authorization header (RFC 6750 2.1) or, on POST, as the form
parameter `access_token` (2.2); never in the query, and never both ways at once. It must
be live (JWT or opaque, not revoked, its user enabled and not signed out everywhere since)
and carry `openid`.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.bootstrap import Services
from authgate.errors import InvalidRequest, InvalidToken, Unauthorized
from authgate.oauth.client_auth import FORM, read_form
from authgate.oauth.errors import NO_STORE, answers_oauth_errors, bearer_error
from authgate.tokens.claims import user_claims
from authgate.tokens.errors import InsufficientScope

_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)


async def _access_token(request: Request) -> str:
    header = request.headers.get("authorization")
    in_form = None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and media == FORM:
        in_form = (await read_form(request)).get("access_token") or None
    if header is not None and in_form is not None:
        raise InvalidRequest("Send the access token one way only.")
    if in_form is not None:
        if not isinstance(in_form, str):
            raise InvalidRequest("access_token is malformed.")
        return in_form
    if header is None:
        raise Unauthorized("A bearer access token is required.")
    match = _BEARER.fullmatch(header)
    if match is None:
        if header.strip().lower().startswith("bearer"):
            raise InvalidToken("The bearer token is malformed.")
        raise Unauthorized("A bearer access token is required.")
    return match.group(1)


@answers_oauth_errors(bearer_error)
async def userinfo(request: Request) -> Response:
    """
    summary: OpenID Connect UserInfo.
    security: [{bearer: []}]
    responses:
      200: {description: "{sub, and the claims the token's scopes release}"}
      401: {description: invalid_token}
      403: {description: insufficient_scope}
    """
    services: Services = request.app.state.services
    claims = await services.tokens.check_access_token(await _access_token(request))
    scopes = str(claims.get("scope", "")).split()
    if "openid" not in scopes:
        raise InsufficientScope("The access token was not issued with the openid scope.")
    user = await services.users.user_for(claims)
    body = user_claims(user, scopes, services.settings.oauth.attribute_scopes)
    return JSONResponse(body, headers=NO_STORE)


routes: list[BaseRoute] = [Route("/oauth2/userinfo", userinfo, methods=["GET", "POST"])]
