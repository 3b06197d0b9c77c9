"""Sign-in with external OpenID Providers on the hosted pages.

- `POST {prefix}/federation/{name}/start` (the sign-in page's button; fields `csrf_token`,
  `ticket` or `return_to`): starts the code flow at the provider, the browser bound by the
  `authgate_federation` cookie, and carries the OAuth request (`ticket`) or `return_to`.
- `GET /oauth2/callback/{name}` (the redirect URI to register at the provider): finishes
  it. A sign-in then goes on like a password sign-in (`after_password`: the second factor
  when the user has one, then the OAuth request or `return_to`); a link goes back to the
  account page.
- `POST {prefix}/account/federation/{name}/link` and `.../unlink` (the account page's
  section; `csrf_token`): both need a recent authentication, like other sensitive changes.
A refusal is a page that says why in words (never what the provider sent) and what to do.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.cookie_names import FEDERATION_COOKIE
from authgate.errors import TooManyRequests
from authgate.federation.accounts import ExternalIdentity
from authgate.federation.errors import FederationRefused
from authgate.federation.flow import TRANSACTION_TTL
from authgate.identity.sessions import SignedIn
from authgate.ui.cookies import set_cookie
from authgate.ui.csrf import csrf_ok
from authgate.ui.flow import problem_page, see_other, services_of
from authgate.ui.formpage import retry_after
from authgate.ui.forms import read_form, text
from authgate.ui.page_session import account_path, current_signed_in, signed_in_or_login
from authgate.ui.pages import message_page
from authgate.ui.reauth import require_recent_auth
from authgate.ui.return_to import origin_of
from authgate.ui.signin import after_password, checked_return_to
from authgate.ui.ticket import read_ticket

log = logging.getLogger("authgate.federation")

REFUSAL_STATUS = {
    "unknown_provider": 404,
    "provider_unavailable": 502,
    "provider_error": 400,
    "flow_invalid": 400,
    "token_invalid": 400,
    "email_taken": 409,
    "signup_closed": 403,
    "signup_refused": 403,
    "user_disabled": 403,
    "identity_taken": 409,
    "last_sign_in_method": 409,
    "not_linked": 404,
}
"""Every refusal reason's page status; its words are `federation.refused.<reason>`."""


def refusal_page(request: Request, refusal: FederationRefused) -> Response:
    """Why it did not work and what to do; for `email_taken`, a link to sign in first.
    Logged with its reason and short detail (never a code or a token)."""
    log.warning("external sign-in refused: %s %s", refusal.reason, refusal.detail)
    services = services_of(request)
    links = [(f"{services.settings.ui.prefix}/login", "federation.sign_in_link")]
    if refusal.reason in ("email_taken", "identity_taken", "last_sign_in_method"):
        links.append((account_path(services), "federation.account_link"))
    return message_page(
        request,
        "federation.refused_title",
        f"federation.refused.{refusal.reason}",
        status=REFUSAL_STATUS[refusal.reason],
        alert=True,
        links=links,
    )


def _to_provider(request: Request, name: str, location: str, binding: str) -> Response:
    """To the provider's authorization endpoint. The page's CSP form-action allowed the
    provider's issuer origin (or the endpoint, once its metadata was cached); an endpoint
    on another origin is reached by a page that goes on by itself instead."""
    services = services_of(request)
    response = see_other(location)
    issuer = services.federation.flow.provider(name).issuer
    if origin_of(location) != origin_of(issuer):
        response = onward(request, response)
    set_cookie(response, FEDERATION_COOKIE, binding, services.settings.issuer, int(TRANSACTION_TTL))
    return response


def _too_many(request: Request, exc: TooManyRequests) -> Response:
    page = problem_page(request, "common.too_many", status=429)
    page.headers.update(retry_after(exc))
    return page


async def start(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request)
    if form is None:
        return problem_page(request, "flow.unreadable")
    if not csrf_ok(request, form, services.settings.issuer):
        return problem_page(request, "flow.forged", status=403)
    raw = text(form, "ticket") or None
    if raw and await read_ticket(services, raw) is None:
        return problem_page(request, "flow.expired")
    return_to = None if raw else checked_return_to(request, text(form, "return_to"))
    try:
        begun = await services.federation.flow.begin(
            request.path_params["name"],
            request.cookies.get(FEDERATION_COOKIE),
            ticket=raw,
            return_to=return_to,
            ip=caller_of(request).ip,
        )
    except FederationRefused as refusal:
        return refusal_page(request, refusal)
    except TooManyRequests as exc:
        return _too_many(request, exc)
    return _to_provider(request, request.path_params["name"], begun.location, begun.binding)


async def callback(request: Request) -> Response:
    services = services_of(request)
    federation = services.federation
    name = request.path_params["name"]
    caller = caller_of(request)
    params = {k: v for k, v in request.query_params.items() if len(v) <= 4096}
    try:
        returned = await federation.flow.finish(
            name, params, request.cookies.get(FEDERATION_COOKIE)
        )
    except FederationRefused as refusal:
        if refusal.reason != "unknown_provider":
            await federation.accounts.refused(name, refusal, caller)
        return refusal_page(request, refusal)
    transaction = returned.transaction
    identity = ExternalIdentity(federation.flow.provider(name), returned.subject, returned.claims)
    try:
        if transaction.mode == "link":
            return await _link(request, transaction.link_sub, identity)
        user = await federation.accounts.sign_in(identity, caller)
    except FederationRefused as refusal:
        return refusal_page(request, refusal)
    ticket = transaction.ticket
    client_id = None
    if ticket:
        parsed = await read_ticket(services, ticket)
        if parsed is None:
            return problem_page(request, "flow.expired")
        client_id = parsed.client_id
    outcome = await federation.complete(user, name, client_id, caller)
    response = await after_password(
        request, outcome, ticket=ticket, return_to=transaction.return_to
    )
    return onward(request, response)


def onward(request: Request, response: Response) -> Response:
    """The callback's answer, safe to follow from the provider's page: a redirect to
    another origin (the OAuth client) becomes a page that goes on by itself (`Refresh`)
    or by its link. The browser reached us by a redirect chain that began with a form on
    the provider's page, and that page's CSP form-action (authgate's own, for one) allows
    our origin but not the client's; a new navigation is not part of that chain."""
    location = response.headers.get("location", "")
    if response.status_code != 303 or location.startswith("/"):
        return response
    page = message_page(
        request,
        "federation.continue_title",
        "federation.continue",
        links=[(location, "federation.continue_link")],
    )
    page.headers["Refresh"] = f"0; url={location}"
    for key, value in response.raw_headers:
        if key == b"set-cookie":
            page.raw_headers.append((key, value))
    return page


async def _link(request: Request, link_sub: str | None, identity: ExternalIdentity) -> Response:
    """A link started from the account page: only for the session that started it."""
    services = services_of(request)
    signed_in = await current_signed_in(request)
    if signed_in is None or link_sub is None or signed_in.user.sub != link_sub:
        refusal = FederationRefused("flow_invalid", "not the session that started the link")
        await services.federation.accounts.refused(
            identity.provider.name, refusal, caller_of(request)
        )
        raise refusal
    await services.federation.accounts.link(link_sub, identity, caller_of(request))
    return see_other(f"{account_path(services)}?status=provider_linked")


async def _account_form(request: Request) -> SignedIn | Response:
    """The signed-in person behind a valid account-page form, recently authenticated."""
    found = await signed_in_or_login(request)
    if not isinstance(found, SignedIn):
        return found
    services = services_of(request)
    form = await read_form(request)
    if form is None:
        return problem_page(request, "flow.unreadable")
    if not csrf_ok(request, form, services.settings.issuer):
        return problem_page(request, "flow.forged", status=403)
    return require_recent_auth(request, found) or found


async def link(request: Request) -> Response:
    found = await _account_form(request)
    if not isinstance(found, SignedIn):
        return found
    try:
        begun = await services_of(request).federation.flow.begin(
            request.path_params["name"],
            request.cookies.get(FEDERATION_COOKIE),
            mode="link",
            link_sub=found.user.sub,
            ip=caller_of(request).ip,
        )
    except FederationRefused as refusal:
        return refusal_page(request, refusal)
    except TooManyRequests as exc:
        return _too_many(request, exc)
    return _to_provider(request, request.path_params["name"], begun.location, begun.binding)


async def unlink(request: Request) -> Response:
    found = await _account_form(request)
    if not isinstance(found, SignedIn):
        return found
    services = services_of(request)
    try:
        await services.federation.accounts.unlink(
            found.user, request.path_params["name"], caller_of(request)
        )
    except FederationRefused as refusal:
        return refusal_page(request, refusal)
    return see_other(f"{account_path(services)}?status=provider_unlinked")


def routes(prefix: str) -> list[BaseRoute]:
    segment = "{name:str}"
    return [
        Route(f"{prefix}/federation/{segment}/start", start, methods=["POST"]),
        Route(f"/oauth2/callback/{segment}", callback, methods=["GET"]),
        Route(f"{prefix}/account/federation/{segment}/link", link, methods=["POST"]),
        Route(f"{prefix}/account/federation/{segment}/unlink", unlink, methods=["POST"]),
    ]
