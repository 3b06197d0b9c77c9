"""Signing out of the browser session: `{prefix}/logout`, and the OIDC logout's form.

GET `{prefix}/logout` asks (a link any site could embed must not sign anyone out); its
POST ends this browser's session, and with `?everywhere=1` every sign-in of the user
(refresh tokens and other browsers too). RP-initiated logout without a valid
`id_token_hint` cannot tell who asks either, so it shows the same question, posting to
`/oauth2/signout` (OIDC RP-Initiated Logout 1.0, section 2). Field: `csrf_token`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.identity.sessions import SignedIn
from authgate.ui.cookies import SESSION_COOKIE, clear_cookie, session_of
from authgate.ui.csrf import csrf_ok, csrf_token, remember_csrf
from authgate.ui.flow import problem_page, services_of
from authgate.ui.forms import read_form
from authgate.ui.page_session import current_signed_in
from authgate.ui.pages import message_page, render
from authgate.ui.signin import FORGED

OIDC_SIGNOUT = "/oauth2/signout"


def signed_out_page(request: Request) -> Response:
    """The page that says it is done, clearing the session cookie."""
    services = services_of(request)
    prefix = services.settings.ui.prefix
    response = message_page(
        request, "logout.done_title", "logout.done", links=[(f"{prefix}/login", "logout.again")]
    )
    clear_cookie(response, SESSION_COOKIE, services.settings.issuer)
    return response


def confirmation_page(
    request: Request, signed_in: SignedIn, action: str = OIDC_SIGNOUT, everywhere: bool = False
) -> Response:
    services = services_of(request)
    issuer = services.settings.issuer
    token, is_new = csrf_token(request, issuer)
    response = render(
        request,
        "signout.html",
        username=signed_in.user.email or signed_in.user.username,
        csrf_token=token,
        action=action,
        everywhere=everywhere,
    )
    return remember_csrf(response, token, is_new, issuer)


async def show(request: Request) -> Response:
    signed_in = await current_signed_in(request)
    if signed_in is None:
        return signed_out_page(request)
    action = f"{services_of(request).settings.ui.prefix}/logout"
    return confirmation_page(request, signed_in, action, everywhere=True)


async def submit(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request)
    if form is None or not csrf_ok(request, form, services.settings.issuer):
        return problem_page(request, FORGED, status=403)
    caller = caller_of(request)
    if request.query_params.get("everywhere") == "1":
        signed_in = await current_signed_in(request)
        if signed_in is not None:
            await services.users.sign_out_everywhere(signed_in.user, caller)
    await services.sessions.end(session_of(request), caller)
    return signed_out_page(request)


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}/logout", show, methods=["GET"]),
        Route(f"{prefix}/logout", submit, methods=["POST"]),
        Route(OIDC_SIGNOUT, submit, methods=["POST"]),
    ]
