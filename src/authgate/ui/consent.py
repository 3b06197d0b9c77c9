"""The consent page: which scopes a third-party client asks for, with Allow and Deny.

Form fields: `csrf_token`, `ticket`, `account` (hidden: the user the page was shown to)
and the pressed button, `decision` = `allow` or `deny`. Allow remembers the scopes for this
user and client; Deny sends the client `error=access_denied`. Without a live session the
browser goes to the sign-in page first.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.ui.cookies import session_of
from authgate.ui.csrf import csrf_ok
from authgate.ui.flow import (
    CONSENT_PAGE,
    Step,
    page_path,
    problem_page,
    resume,
    see_other,
    services_of,
)
from authgate.ui.forms import read_form, text
from authgate.ui.signin import EXPIRED, FORGED, UNREADABLE
from authgate.ui.ticket import read_ticket


async def show(request: Request) -> Response:
    services = services_of(request)
    ticket = await read_ticket(services, request.query_params.get("ticket"))
    if ticket is None:
        return problem_page(request, EXPIRED)
    signed_in = await services.sessions.current(session_of(request))
    return await resume(request, ticket, Step(ticket.requested_at, signed_in, show_consent=True))


async def submit(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request)
    if form is None:
        return problem_page(request, UNREADABLE)
    if not csrf_ok(request, form, services.settings.issuer):
        return problem_page(request, FORGED, status=403)
    ticket = await read_ticket(services, form.get("ticket"))
    if ticket is None:
        return problem_page(request, EXPIRED)
    decision = text(form, "decision")
    if decision not in ("allow", "deny"):
        return problem_page(request, "consent.choose")
    signed_in = await services.sessions.current(session_of(request))
    if signed_in is not None and text(form, "account") != signed_in.user.sub:
        # Someone else signed in, in another tab, since the page was shown: ask them anew.
        return see_other(f"{page_path(services, CONSENT_PAGE)}?ticket={text(form, 'ticket')}")
    consent: Literal["allow", "deny"] = "allow" if decision == "allow" else "deny"
    return await resume(request, ticket, Step(ticket.requested_at, signed_in, consent))


async def old_consent(request: Request) -> Response:
    """The page's former address (/oauth2/consent): sent on, so old links keep working."""
    query = request.url.query
    path = page_path(services_of(request), CONSENT_PAGE)
    return see_other(path + (f"?{query}" if query else ""))


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}{CONSENT_PAGE}", show, methods=["GET"]),
        Route(f"{prefix}{CONSENT_PAGE}", submit, methods=["POST"]),
        Route("/oauth2/consent", old_consent, methods=["GET"], include_in_schema=False),
    ]
