"""Pages for a signed-in person: the browser session behind the cookie, or the sign-in page.

The page session is the browser session the OAuth sign-in starts (identity/sessions.py,
cookie in ui/cookies.py). A page that needs one calls `signed_in_or_login`: it gets the
`SignedIn`, or a redirect to `{prefix}/login?return_to=<this page>` to return it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from authgate.bootstrap import Services
from authgate.identity.sessions import SignedIn
from authgate.ui.cookies import session_of
from authgate.ui.flow import see_other, services_of

ACCOUNT_PAGE = "/account"


def account_path(services: Services) -> str:
    """The account page, where a signed-in person lands when nothing else is asked for."""
    return f"{services.settings.ui.prefix}{ACCOUNT_PAGE}"


async def current_signed_in(request: Request) -> SignedIn | None:
    """The live session of this browser, or None."""
    return await services_of(request).sessions.current(session_of(request))


def login_redirect(request: Request, return_to: str | None = None) -> Response:
    """To the sign-in page, which returns to `return_to` (default: this page) afterwards."""
    prefix = services_of(request).settings.ui.prefix
    here = return_to or request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return see_other(f"{prefix}/login?{urlencode({'return_to': here})}")


async def signed_in_or_login(request: Request) -> SignedIn | Response:
    """The current SignedIn, or the redirect to sign in first (return it as it is)."""
    signed_in = await current_signed_in(request)
    return signed_in if signed_in is not None else login_redirect(request)
