"""Authorization endpoint (RFC 6749 3.1, OIDC Core 3.1.2): GET, and POST with a form.

This module only reads the parameters off the request; checking them and taking the
browser through sign-in and consent is `authgate.ui.flow`'s job, shared with the pages.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.ui.cookies import session_of
from authgate.ui.flow import Step, authorize, problem_page, services_of
from authgate.ui.forms import read_form


def collect(pairs: Iterable[tuple[str, object]]) -> tuple[dict[str, str], set[str]] | None:
    """Parameters by name, and the names sent more than once; None if a value is not text.

    A parameter sent without a value counts as omitted (OIDC Core 3.1.2.1).
    """
    params: dict[str, str] = {}
    seen: set[str] = set()
    duplicates: set[str] = set()
    for name, value in pairs:
        if not isinstance(value, str):
            return None
        if name in seen:
            duplicates.add(name)
        seen.add(name)
        if value:
            params[name] = value
    return params, duplicates


async def endpoint(request: Request) -> Response:
    """
    summary: Authorization endpoint (authorization code flow with PKCE).
    description: Redirects (303) to the client's redirect_uri with code, state and iss, or
      with an error; an unknown client or redirect_uri gets an HTML error page instead.
    responses:
      303: {description: "To the sign-in or consent page, or back to the client."}
      400: {description: "HTML error page: unknown client or redirect_uri."}
    """
    services = services_of(request)
    if request.method == "POST":
        form = await read_form(request)
        collected = collect(form.items()) if form is not None else None
    else:
        collected = collect(request.query_params.multi_items())
    if collected is None:
        return problem_page(request, "flow.unreadable")
    params, duplicates = collected
    signed_in = await services.sessions.current(session_of(request))
    step = Step(time.time(), signed_in, id_token_hint=params.get("id_token_hint"))
    return await authorize(request, params, duplicates, step)


routes: list[BaseRoute] = [Route("/oauth2/authorize", endpoint, methods=["GET", "POST"])]
