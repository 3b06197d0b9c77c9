"""The sign-in page, `{prefix}/login`: GET shows the form, POST checks it and goes on.

It serves the OAuth flow (a signed `ticket` from /oauth2/authorize) and stands alone
(`?return_to=`, checked by `return_to.safe_return_to`; anything else ends on the account
page). Form fields: `csrf_token`, `ticket` or `return_to` (hidden), `username`, `password`,
and `new_password` once an invited user must choose one. A wrong password and an unknown
user get the same page; account state is told only after a correct password.

Two steps, so a second factor can sit between them: `after_password` decides what a
verified password leads to (straight on, or to `{prefix}/login/mfa` with the challenge
session in a cookie when a second factor is due), and `finish_sign_in` starts the browser
session and continues the flow; the MFA page calls `finish_sign_in` as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.cookie_names import MFA_COOKIE
from authgate.errors import (
    InvalidCredentials,
    InvalidPassword,
    PasswordChangeRequired,
    PasswordResetRequired,
    TooManyRequests,
    UserDisabled,
    UserNotConfirmed,
)
from authgate.identity.challenges import Challenge, Completed
from authgate.identity.passwords import PasswordPolicy
from authgate.store.records import UserRecord
from authgate.ui.cookies import SESSION_COOKIE, clear_cookie, session_of, set_cookie
from authgate.ui.csrf import csrf_ok, csrf_token, remember_csrf
from authgate.ui.federation_section import form_targets, provider_buttons
from authgate.ui.flow import (
    Step,
    find_client,
    problem_page,
    resume,
    see_other,
    services_of,
)
from authgate.ui.forms import read_form, text
from authgate.ui.i18n import Translate
from authgate.ui.page_session import account_path
from authgate.ui.pages import render, translator
from authgate.ui.return_to import safe_return_to
from authgate.ui.ticket import Ticket, read_ticket, uri_hash

EXPIRED = "flow.expired"
FORGED = "flow.forged"
UNREADABLE = "flow.unreadable"


def carry_fields(ticket: str | None, return_to: str | None) -> dict[str, str]:
    """`{ticket}` or `{return_to}` (or nothing): the query fields the pages carry on."""
    if ticket:
        return {"ticket": ticket}
    return {"return_to": return_to} if return_to else {}


def carry_query(ticket: str | None, return_to: str | None) -> str:
    """`?ticket=...` or `?return_to=...` (or ""): what links between the pages carry on."""
    fields = carry_fields(ticket, return_to)
    return "?" + urlencode(fields) if fields else ""


def checked_return_to(request: Request, value: object) -> str | None:
    """`value` if the pages may send the browser there (see `return_to`), else None."""
    settings = services_of(request).settings
    return safe_return_to(value, settings.issuer, settings.ui)


def policy_message(t: Translate, policy: PasswordPolicy, error: InvalidPassword) -> str:
    """Why a new password was refused: the rules it broke, in the page's language."""
    rules = error.details.get("rules")
    broken = [policy.describe(r) for r in rules] if isinstance(rules, list) else []
    return " ".join([t("password.policy_failed"), *broken])


async def finish_sign_in(
    request: Request,
    user: UserRecord,
    amr: Sequence[str],
    *,
    ticket: str | None = None,
    return_to: str | None = None,
) -> Response:
    """The person proved who they are (`amr`: how): start the browser session, then go on
    with the OAuth request the `ticket` carries, or to `return_to` (checked again here),
    or to the account page. Called by the password page and the second-factor page."""
    services = services_of(request)
    parsed: Ticket | None = None
    if ticket:
        parsed = await read_ticket(services, ticket)
        if parsed is None:
            return problem_page(request, EXPIRED)
    signed_in = await services.sessions.start(
        user, caller_of(request), session_of(request), amr=amr
    )
    if parsed is not None:
        response = await resume(request, parsed, Step(parsed.requested_at, signed_in))
    else:
        target = checked_return_to(request, return_to)
        response = see_other(target or account_path(services))
    max_age = int(services.sessions.ttl)
    set_cookie(response, SESSION_COOKIE, signed_in.session_id, services.settings.issuer, max_age)
    if MFA_COOKIE in request.cookies:  # a pending second-factor step is over (a passkey, say)
        clear_cookie(response, MFA_COOKIE, services.settings.issuer)
    return response


async def after_password(
    request: Request,
    outcome: Completed | Challenge,
    *,
    ticket: str | None,
    return_to: str | None,
) -> Response:
    """Where a verified password leads: a completed sign-in goes on; a user who needs a
    second factor (or must enrol one) goes to `{prefix}/login/mfa`, carrying
    `ticket`/`return_to`, with the challenge session in a cookie (never in a URL)."""
    if isinstance(outcome, Completed):
        return await finish_sign_in(
            request, outcome.user, outcome.amr, ticket=ticket, return_to=return_to
        )
    settings = services_of(request).settings
    response = see_other(f"{settings.ui.prefix}/login/mfa{carry_query(ticket, return_to)}")
    set_cookie(response, MFA_COOKIE, outcome.session, settings.issuer, outcome.expires_in)
    return response


async def _form_page(
    request: Request,
    *,
    ticket: Ticket | None,
    raw_ticket: str | None,
    return_to: str | None,
    username: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
    new_password: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    services = services_of(request)
    issuer = services.settings.issuer
    client_name, redirect = None, None
    if ticket is not None:
        client = await find_client(services, ticket.client_id)
        if client is None:
            return problem_page(request, "flow.client_unknown")
        client_name = client.metadata.client_name or client.client_id
        redirect = next(
            (u for u in client.metadata.redirect_uris if uri_hash(u) == ticket.redirect_hash),
            None,
        )
    token, is_new = csrf_token(request, issuer)
    offered = services.passkeys.browsers_can_use
    response = render(
        request,
        "signin.html",
        status=status,
        redirects_to=redirect or return_to,
        headers=headers,
        script=offered,
        form_targets=form_targets(request),
        providers=provider_buttons(request),
        passkeys_offered=offered,
        client_name=client_name,
        ticket=raw_ticket or "",
        return_to=return_to or "",
        carry=carry_query(raw_ticket, return_to),
        csrf_token=token,
        username=username,
        errors=errors or {},
        new_password=new_password,
    )
    return remember_csrf(response, token, is_new, issuer)


async def show(request: Request) -> Response:
    services = services_of(request)
    raw = request.query_params.get("ticket")
    if raw is not None:
        ticket = await read_ticket(services, raw)
        if ticket is None:
            return problem_page(request, EXPIRED)
        hint = ticket.params.get("login_hint", "")
        return await _form_page(
            request, ticket=ticket, raw_ticket=raw, return_to=None, username=hint
        )
    return_to = checked_return_to(request, request.query_params.get("return_to"))
    return await _form_page(request, ticket=None, raw_ticket=None, return_to=return_to)


async def submit(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request)
    if form is None:
        return problem_page(request, UNREADABLE)
    if not csrf_ok(request, form, services.settings.issuer):
        return problem_page(request, FORGED, status=403)
    raw = text(form, "ticket") or None
    ticket = await read_ticket(services, raw) if raw else None
    if raw and ticket is None:
        return problem_page(request, EXPIRED)
    return_to = None if raw else checked_return_to(request, text(form, "return_to"))
    username, password = text(form, "username"), text(form, "password")
    new_password = text(form, "new_password") or None
    t = translator(request)

    async def again(
        errors: dict[str, str], status: int, new_password: bool = False, retry: str | None = None
    ) -> Response:
        return await _form_page(
            request,
            ticket=ticket,
            raw_ticket=raw,
            return_to=return_to,
            username=username,
            errors=errors,
            status=status,
            new_password=new_password,
            headers={"Retry-After": retry} if retry else None,
        )

    if not username or not password:
        missing = {n: t("login.missing_" + n) for n in ("username", "password") if not form.get(n)}
        return await again({"": t("login.missing"), **missing}, 400, new_password is not None)
    try:
        outcome = await services.login_flow.password_signin(
            username,
            password,
            caller_of(request),
            client_id=ticket.client_id if ticket else None,
            new_password=new_password,
        )
    except InvalidCredentials:
        return await again({"": t("login.incorrect"), "password": t("login.incorrect")}, 400)
    except TooManyRequests as exc:
        retry = str(exc.details.get("retry_after", 60))
        return await again({"": t("common.too_many")}, 429, retry=retry)
    except UserDisabled:
        return await again({"": t("login.disabled")}, 403)
    except UserNotConfirmed:
        return await again({"": t("login.unconfirmed")}, 403)
    except PasswordChangeRequired:
        return await again({"": t("login.choose_new_password")}, 200, new_password=True)
    except PasswordResetRequired:
        return await again({"": t("login.reset_required")}, 403)
    except InvalidPassword as exc:
        message = policy_message(t, services.users.policy, exc)
        return await again({"": message, "new_password": message}, 400, new_password=True)
    return await after_password(request, outcome, ticket=raw, return_to=return_to)


async def old_signin(request: Request) -> Response:
    """The page's former address (/oauth2/signin): sent on, so old links keep working."""
    prefix = services_of(request).settings.ui.prefix
    query = request.url.query
    return see_other(f"{prefix}/login" + (f"?{query}" if query else ""))


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}/login", show, methods=["GET"]),
        Route(f"{prefix}/login", submit, methods=["POST"]),
        Route("/oauth2/signin", old_signin, methods=["GET"], include_in_schema=False),
    ]
