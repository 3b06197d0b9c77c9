"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), GET or POST.

With a valid `id_token_hint` (one of our ID tokens, expired ones too) for the user signed
in here, the browser session ends at once, and the browser goes to
`post_logout_redirect_uri` when it is exactly one registered for the client the token was
issued to (with `state`); otherwise it sees the signed-out page. Without a valid hint
nobody can say which client asks, and a hint for another user says nothing about this
session (any site can hold its own user's ID token): then nothing is redirected anywhere
and the user is asked to confirm the sign-out (RP-Initiated Logout 1.0, section 2).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.oauth.authorize import collect
from authgate.ui.authrequest import Target
from authgate.ui.cookies import SESSION_COOKIE, clear_cookie, session_of
from authgate.ui.flow import find_client, see_other, services_of
from authgate.ui.forms import read_form
from authgate.ui.hint import hint_clients, read_id_token_hint
from authgate.ui.signout import confirmation_page, signed_out_page


async def _parameters(request: Request) -> dict[str, str]:
    """The parameters; none at all when they are malformed or repeated."""
    if request.method == "POST":
        form = await read_form(request)
        collected = collect(form.items()) if form is not None else None
    else:
        collected = collect(request.query_params.multi_items())
    if collected is None or collected[1]:
        return {}
    return collected[0]


def _client_of(claims: dict[str, Any], asked: str | None) -> str | None:
    """The client the hint was issued to; a client_id parameter must be that one."""
    audience = hint_clients(claims)
    if asked is not None:
        return asked if asked in audience else None
    azp = claims.get("azp")
    if isinstance(azp, str) and azp in audience:
        return azp
    return audience[0] if len(audience) == 1 else None


async def _return_address(request: Request, params: dict[str, str], client_id: str) -> str | None:
    """post_logout_redirect_uri (with state) when registered, character for character."""
    uri = params.get("post_logout_redirect_uri")
    client = await find_client(services_of(request), client_id)
    if uri is None or client is None or uri not in client.metadata.post_logout_redirect_uris:
        return None
    return Target(uri, params.get("state"), fragment=False).url({})


async def endpoint(request: Request) -> Response:
    """
    summary: RP-initiated logout (OIDC RP-Initiated Logout 1.0).
    responses:
      200: {description: "The signed-out page, or a confirmation form without a valid hint."}
      303: {description: "To the registered post_logout_redirect_uri, with state."}
    """
    services = services_of(request)
    params = await _parameters(request)
    claims = read_id_token_hint(services, params.get("id_token_hint"))
    client_id = _client_of(claims, params.get("client_id")) if claims else None
    signed_in = await services.sessions.current(session_of(request))
    someone_else = (
        signed_in is not None and claims is not None and claims["sub"] != signed_in.user.sub
    )
    if client_id is None or someone_else:
        if signed_in is None:
            return signed_out_page(request)
        return confirmation_page(request, signed_in)
    await services.sessions.end(session_of(request), caller_of(request))
    address = await _return_address(request, params, client_id)
    if address is None:
        return signed_out_page(request)
    response = see_other(address)
    clear_cookie(response, SESSION_COOKIE, services.settings.issuer)
    return response


routes: list[BaseRoute] = [Route("/oauth2/logout", endpoint, methods=["GET", "POST"])]
