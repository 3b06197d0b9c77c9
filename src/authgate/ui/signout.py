"""Signing out of the browser session: the confirmation form and the signed-out page.

RP-initiated logout without a valid `id_token_hint` cannot tell who asks, so instead of
signing the user out on a link any site could embed, it shows this form (OIDC
RP-Initiated Logout 1.0, section 2: the OP asks the user). Its field: `csrf_token`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.api.requests import caller_of
from authgate.identity.sessions import SignedIn
from authgate.ui.cookies import SESSION_COOKIE, clear_cookie, session_of
from authgate.ui.csrf import csrf_ok, csrf_token, remember_csrf
from authgate.ui.flow import problem_page, services_of
from authgate.ui.forms import read_form
from authgate.ui.pages import message_page, render
from authgate.ui.signin import FORGED


def signed_out_page(request: Request) -> Response:
    """The page that says it is done, clearing the session cookie."""
    services = services_of(request)
    response = message_page(
        services.settings.user_pool.name,
        "You are signed out",
        "You can close this window.",
    )
    clear_cookie(response, SESSION_COOKIE, services.settings.issuer)
    return response


def confirmation_page(request: Request, signed_in: SignedIn) -> Response:
    services = services_of(request)
    issuer = services.settings.issuer
    token, is_new = csrf_token(request, issuer)
    response = render(
        "signout.html",
        services.settings.user_pool.name,
        title="Sign out",
        username=signed_in.user.email or signed_in.user.username,
        csrf_token=token,
    )
    return remember_csrf(response, token, is_new, issuer)


async def submit(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request)
    if form is None or not csrf_ok(request, form, services.settings.issuer):
        return problem_page(services, FORGED, status=403)
    await services.sessions.end(session_of(request), caller_of(request))
    return signed_out_page(request)


routes = [Route("/oauth2/signout", submit, methods=["POST"])]
