"""The authorization code flow from the browser's side: sign-in, consent, then the code.

The authorization endpoint and every page that continues it (sign-in, consent) end in the
same function, `authorize`, which checks the whole request again from its parameters
each time: the client and its exact redirect URI first (an error page when they fail),
then the rest (an error sent to the client). Only then does it look at the browser:
no fresh-enough session means the sign-in page, a third-party client without a remembered
consent means the consent page, and otherwise a code is issued and the browser goes back
to the client with `code`, `state` and `iss` (RFC 9207). `prompt=none` never shows a page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from authgate.api.requests import caller_of
from authgate.bootstrap import Services
from authgate.clients.registry import Client
from authgate.errors import NotFound
from authgate.identity.sessions import SignedIn
from authgate.ui.authrequest import (
    AuthorizationRequest,
    AuthorizeError,
    Target,
    UnsafeRequest,
    find_target,
    validate,
)
from authgate.ui.csrf import csrf_token, remember_csrf
from authgate.ui.hint import read_id_token_hint
from authgate.ui.pages import message_page, render, translator
from authgate.ui.scopes import describe
from authgate.ui.ticket import Ticket, issue_ticket

LOGIN_PAGE = "/login"
CONSENT_PAGE = "/consent"
MAX_CLIENT_ID = 128
# Characters left as they are in a Location header: printable ASCII, so the registered
# redirect URI reaches the browser exactly as registered (only non-ASCII is escaped).
_LOCATION_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))
_REDIRECT_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Step:
    """Where the browser stands: when the request was made, who is signed in, what they chose."""

    requested_at: float
    signed_in: SignedIn | None
    consent: Literal["allow", "deny"] | None = None
    show_consent: bool = False
    id_token_hint: str | None = None


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def see_other(location: str) -> Response:
    headers = {"Location": quote(location, safe=_LOCATION_SAFE), **_REDIRECT_HEADERS}
    return Response(status_code=303, headers=headers)


def page_path(services: Services, page: str) -> str:
    """The path of a hosted page (`/login`) under the configured `ui.prefix`."""
    return f"{services.settings.ui.prefix}{page}"


def problem_page(request: Request, message_key: str, status: int = 400) -> Response:
    """The page for a request that cannot go on; `message_key` names its words."""
    return message_page(request, "flow.problem_title", message_key, status=status, alert=True)


async def find_client(services: Services, client_id: str | None) -> Client | None:
    if not client_id or len(client_id) > MAX_CLIENT_ID:
        return None
    try:
        return await services.clients.get(client_id)
    except NotFound:
        return None


def to_client(services: Services, target: Target, values: dict[str, str]) -> Response:
    return see_other(target.url({**values, "iss": services.settings.issuer}))


async def authorize(
    request: Request, params: dict[str, str], duplicates: set[str], step: Step
) -> Response:
    """Check the request from scratch, then send the browser to its next stop."""
    services = services_of(request)
    client = await find_client(services, params.get("client_id"))
    try:
        client, target = find_target(client, params, duplicates)
    except UnsafeRequest as exc:
        return problem_page(request, exc.key)
    try:
        auth = validate(client, target, params, duplicates, services.settings.oauth)
        return await _next_stop(request, services, auth, step)
    except AuthorizeError as exc:
        return to_client(
            services, target, {"error": exc.error, "error_description": exc.description}
        )


async def resume(request: Request, ticket: Ticket, step: Step) -> Response:
    """Continue the request a page carried, checked again against the client as it is now."""
    services = services_of(request)
    client = await find_client(services, ticket.client_id)
    if client is None:
        return problem_page(request, "flow.client_unknown")
    try:
        params = ticket.request_params(client.metadata.redirect_uris)
    except UnsafeRequest as exc:
        return problem_page(request, exc.key)
    return await authorize(request, params, set(), step)


async def _next_stop(
    request: Request, services: Services, auth: AuthorizationRequest, step: Step
) -> Response:
    if step.consent == "deny":
        raise AuthorizeError("access_denied", "The user denied the request.")
    signed_in = _matching_hint(services, step)
    if signed_in is None or _must_sign_in_again(auth, signed_in, step.requested_at):
        if "none" in auth.prompt:
            raise AuthorizeError("login_required", "The user must sign in.")
        ticket = issue_ticket(services, auth, step.requested_at)
        return see_other(f"{page_path(services, LOGIN_PAGE)}?ticket={ticket}")
    sub, client_id = signed_in.user.sub, auth.client.client_id
    if step.consent == "allow":
        await services.consents.grant(sub, client_id, auth.scopes, caller_of(request))
    elif await _needs_consent(services, auth, sub):
        if "none" in auth.prompt:
            raise AuthorizeError("consent_required", "The user must approve this client.")
        ticket = issue_ticket(services, auth, step.requested_at)
        if step.show_consent:
            return _consent_page(request, services, auth, signed_in, ticket)
        return see_other(f"{page_path(services, CONSENT_PAGE)}?ticket={ticket}")
    code = await services.codes.issue(
        client_id=client_id,
        sub=sub,
        redirect_uri=auth.target.redirect_uri,
        scope=auth.scope,
        nonce=auth.nonce,
        code_challenge=auth.code_challenge,
        auth_time=signed_in.auth_time,
        amr=signed_in.amr,
    )
    return to_client(services, auth.target, {"code": code})


def _matching_hint(services: Services, step: Step) -> SignedIn | None:
    """The session, unless an id_token_hint names someone else (OIDC Core 3.1.2.1)."""
    if step.id_token_hint is None:
        return step.signed_in
    claims = read_id_token_hint(services, step.id_token_hint)
    if claims is None:
        raise AuthorizeError("invalid_request", "id_token_hint is not a valid ID token.")
    if step.signed_in is not None and claims["sub"] != step.signed_in.user.sub:
        return None
    return step.signed_in


def _must_sign_in_again(
    auth: AuthorizationRequest, signed_in: SignedIn, requested_at: float
) -> bool:
    """prompt=login and max_age ask for a sign-in newer than the session's."""
    if signed_in.auth_time >= requested_at:
        return False  # the user signed in for this very request
    if auth.prompt & {"login", "select_account"}:
        return True
    return auth.max_age is not None and time.time() - signed_in.auth_time > auth.max_age


async def _needs_consent(services: Services, auth: AuthorizationRequest, sub: str) -> bool:
    if auth.client.metadata.first_party:
        return False
    if "consent" in auth.prompt:
        return True
    return not await services.consents.covers(sub, auth.client.client_id, auth.scopes)


def _consent_page(
    request: Request,
    services: Services,
    auth: AuthorizationRequest,
    signed_in: SignedIn,
    ticket: str,
) -> Response:
    settings = services.settings
    token, is_new = csrf_token(request, settings.issuer)
    response = render(
        request,
        "consent.html",
        redirects_to=auth.target.redirect_uri,
        client_name=auth.client.metadata.client_name or auth.client.client_id,
        username=signed_in.user.email or signed_in.user.username,
        account=signed_in.user.sub,
        scopes=describe(auth.scopes, settings.oauth, translator(request)),
        ticket=ticket,
        csrf_token=token,
    )
    return remember_csrf(response, token, is_new, settings.issuer)
