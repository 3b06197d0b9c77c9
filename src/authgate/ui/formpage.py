"""What every hosted form page does alike: render with a CSRF token, read a POST safely.

`form_page` renders a template with `csrf_token`, `errors` and the carried `ticket` /
`return_to` (and `carry`, the query that links pass on), setting the CSRF cookie when the
browser has none yet. `posted_form` reads a POST and checks its CSRF token: it returns the
fields, or the error page to answer with (403 for a forged or stale form).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from authgate.errors import TooManyRequests
from authgate.ui.csrf import csrf_ok, csrf_token, remember_csrf
from authgate.ui.flow import problem_page, services_of
from authgate.ui.forms import read_form
from authgate.ui.pages import render
from authgate.ui.signin import FORGED, UNREADABLE, carry_query, checked_return_to

MAX_FIELD = 2048


def form_page(
    request: Request,
    template: str,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    ticket: str | None = None,
    return_to: str | None = None,
    **context: Any,
) -> Response:
    issuer = services_of(request).settings.issuer
    token, is_new = csrf_token(request, issuer)
    response = render(
        request,
        template,
        status=status,
        headers=headers,
        csrf_token=token,
        errors=errors or {},
        ticket=ticket or "",
        return_to=return_to or "",
        carry=carry_query(ticket, return_to),
        **context,
    )
    return remember_csrf(response, token, is_new, issuer)


def code_page(
    request: Request,
    template: str,
    ticket: str | None,
    return_to: str | None,
    username: str,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A form for `username` that takes a mailed code (confirm a sign-up, reset a password)."""
    return form_page(
        request,
        template,
        errors=errors,
        status=status,
        headers=headers,
        ticket=ticket,
        return_to=return_to,
        username=username,
        notice=notice,
        **context,
    )


def query_username(request: Request) -> str:
    """The `username` a link passed on in the query, bounded."""
    return request.query_params.get("username", "")[:MAX_FIELD]


async def posted_form(request: Request) -> dict[str, Any] | Response:
    """The POSTed fields when the form is readable and its CSRF token right; else the page."""
    form = await read_form(request)
    if form is None:
        return problem_page(request, UNREADABLE)
    if not csrf_ok(request, form, services_of(request).settings.issuer):
        return problem_page(request, FORGED, status=403)
    return form


def carried(
    request: Request, source: dict[str, Any] | None = None
) -> tuple[str | None, str | None]:
    """The (ticket, return_to) a page carries on, from the form or else the query; an
    unsafe return_to is dropped here. The ticket is checked where it is used."""
    values = source if source is not None else dict(request.query_params)
    ticket = values.get("ticket")
    ticket = ticket if isinstance(ticket, str) and ticket else None
    return_to = None if ticket else checked_return_to(request, values.get("return_to"))
    return ticket, return_to


def retry_after(exc: TooManyRequests) -> dict[str, str]:
    return {"Retry-After": str(exc.details.get("retry_after", 60))}
