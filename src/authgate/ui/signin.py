"""The hosted sign-in page: GET shows the form, POST checks it and continues the request.

Form fields: `csrf_token`, `ticket` (both hidden), `username`, `password`, and
`new_password` once an invited user must choose one. A wrong password and an unknown
user get the same page; account state is told only after a correct password.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.api.requests import caller_of
from authgate.errors import (
    InvalidCredentials,
    InvalidPassword,
    PasswordChangeRequired,
    TooManyRequests,
    UserDisabled,
    UserNotConfirmed,
)
from authgate.identity.passwords import PasswordPolicy
from authgate.ui.cookies import SESSION_COOKIE, session_of, set_cookie
from authgate.ui.csrf import csrf_ok, csrf_token, remember_csrf
from authgate.ui.flow import Step, find_client, problem_page, resume, services_of
from authgate.ui.forms import read_form, text
from authgate.ui.pages import render
from authgate.ui.ticket import Ticket, read_ticket, uri_hash

EXPIRED = "This sign-in link is invalid or has expired. Go back to the application and try again."
FORGED = "The form expired or was not sent from this page. Go back and try again."
INCORRECT = "The username or password is incorrect."
MISSING = "Enter your username and password."


async def _form_page(
    request: Request,
    ticket: Ticket,
    raw_ticket: str,
    *,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    new_password: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    services = services_of(request)
    issuer = services.settings.issuer
    client = await find_client(services, ticket.client_id)
    if client is None:
        return problem_page(services, "The application that sent you here is not registered.")
    redirect = next(
        (u for u in client.metadata.redirect_uris if uri_hash(u) == ticket.redirect_hash), None
    )
    token, is_new = csrf_token(request, issuer)
    response = render(
        "signin.html",
        services.settings.user_pool.name,
        status=status,
        redirects_to=redirect,
        headers=headers,
        title="Sign in",
        client_name=client.metadata.client_name or client.client_id,
        ticket=raw_ticket,
        csrf_token=token,
        username=username,
        error=error,
        new_password=new_password,
    )
    return remember_csrf(response, token, is_new, issuer)


async def show(request: Request) -> Response:
    services = services_of(request)
    raw = request.query_params.get("ticket", "")
    ticket = await read_ticket(services, raw)
    if ticket is None:
        return problem_page(services, EXPIRED)
    return await _form_page(request, ticket, raw, username=ticket.params.get("login_hint", ""))


def _rules_message(policy: PasswordPolicy, error: InvalidPassword) -> str:
    rules = error.details.get("rules")
    broken = [policy.describe(r) for r in rules] if isinstance(rules, list) else []
    return " ".join(["The new password does not meet the password policy:", *broken])


async def submit(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request)
    if form is None:
        return problem_page(services, "The form could not be read.")
    if not csrf_ok(request, form, services.settings.issuer):
        return problem_page(services, FORGED, status=403)
    raw = text(form, "ticket")
    ticket = await read_ticket(services, raw)
    if ticket is None:
        return problem_page(services, EXPIRED)
    username, password = text(form, "username"), text(form, "password")
    new_password = text(form, "new_password") or None

    async def again(
        error: str, status: int, new_password: bool = False, retry_after: str | None = None
    ) -> Response:
        headers = {"Retry-After": retry_after} if retry_after else None
        return await _form_page(
            request,
            ticket,
            raw,
            username=username,
            error=error,
            status=status,
            new_password=new_password,
            headers=headers,
        )

    if not username or not password:
        return await again(MISSING, 400, new_password=new_password is not None)
    try:
        user = await services.signin.authenticate(
            username,
            password,
            caller_of(request),
            client_id=ticket.client_id,
            new_password=new_password,
        )
    except InvalidCredentials:
        return await again(INCORRECT, 400)
    except TooManyRequests as exc:
        retry = str(exc.details.get("retry_after", 60))
        return await again("Too many attempts. Wait a while, then try again.", 429, False, retry)
    except UserDisabled:
        return await again("This account is disabled.", 403)
    except UserNotConfirmed:
        return await again("This account is not confirmed yet: use the code we mailed.", 403)
    except PasswordChangeRequired:
        return await again("Choose a new password to finish signing in.", 200, new_password=True)
    except InvalidPassword as exc:
        message = _rules_message(services.users.policy, exc)
        return await again(message, 400, new_password=True)
    signed_in = await services.sessions.start(user, caller_of(request), session_of(request))
    response = await resume(request, ticket, Step(ticket.requested_at, signed_in))
    max_age = int(services.sessions.ttl)
    set_cookie(response, SESSION_COOKIE, signed_in.session_id, services.settings.issuer, max_age)
    return response


routes = [
    Route("/oauth2/signin", show, methods=["GET"]),
    Route("/oauth2/signin", submit, methods=["POST"]),
]
