"""Re-authentication: prove it is you again before a sensitive change.

Changing the password or the email address, MFA, passkeys, and deleting the account need a
session that signed in or re-authenticated less than `ui.reauth_after` ago: a browser left
signed in must not let someone else take the account over. `require_recent_auth` answers
None when the session is recent enough, or the redirect to `{prefix}/account/reauth`, which
asks for the password (or, when the user has TOTP on, a code: see `second_factor`) and then
returns to where the person was. Form fields: `csrf_token`, `return_to` (hidden),
`password` or `code`.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.audit import Caller
from authgate.bootstrap import Services
from authgate.errors import InvalidCredentials, TooManyRequests
from authgate.identity.sessions import SignedIn
from authgate.store.records import UserRecord
from authgate.ui.cookies import session_of
from authgate.ui.csrf import csrf_ok, csrf_token, remember_csrf
from authgate.ui.flow import problem_page, see_other, services_of
from authgate.ui.forms import read_form, text
from authgate.ui.page_session import account_path, login_redirect
from authgate.ui.pages import render, translator
from authgate.ui.return_to import safe_return_to

REAUTH_PAGE = "/account/reauth"


class SecondFactor(Protocol):
    """What re-authentication needs of the MFA module (identity/mfa.py)."""

    async def enrolled(self, user: UserRecord) -> bool:
        """True when the user has a second factor (TOTP) on."""
        ...

    async def verify(self, user: UserRecord, code: str, caller: Caller) -> bool:
        """True for a right code (spent, so it cannot be replayed); a wrong one counts
        against the user's throttle like a wrong password."""
        ...


def second_factor(services: Services) -> SecondFactor | None:
    """What checks a TOTP code: a user with TOTP on re-authenticates with a code, others
    with their password. None while the pool has MFA off."""
    return None if services.mfa.mode == "off" else services.mfa.second_factor


def reauth_after(services: Services) -> float:
    return services.settings.ui.reauth_after


def is_recent(services: Services, signed_in: SignedIn) -> bool:
    return services.sessions.proved_within(signed_in, reauth_after(services))


def _here_or_account(request: Request, services: Services) -> str:
    """Where to come back to: the page asked for (GET), or the account page after a POST,
    whose form must be sent again anyway."""
    if request.method == "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        return request.url.path + query
    return account_path(services)


def reauth_location(services: Services, return_to: str) -> str:
    """The re-authentication page, which comes back to `return_to`."""
    query = urlencode({"return_to": return_to})
    return f"{services.settings.ui.prefix}{REAUTH_PAGE}?{query}"


def reauth_redirect(request: Request, return_to: str | None = None) -> Response:
    services = services_of(request)
    return see_other(reauth_location(services, return_to or _here_or_account(request, services)))


def require_recent_auth(
    request: Request, signed_in: SignedIn, return_to: str | None = None
) -> Response | None:
    """None when `signed_in` proved who they are within `ui.reauth_after`; otherwise the
    redirect to the re-authentication page, which comes back to `return_to` (default:
    this page for a GET, the account page for a POST). Call it before every sensitive
    change and return the redirect as it is."""
    if is_recent(services_of(request), signed_in):
        return None
    return reauth_redirect(request, return_to)


def _local_return_to(request: Request, value: object) -> str:
    """Only a path on this server: re-authentication never sends the browser elsewhere."""
    services = services_of(request)
    checked = safe_return_to(value, services.settings.issuer, services.settings.ui)
    if checked is None or not checked.startswith("/"):
        return account_path(services)
    return checked


async def _page(
    request: Request,
    signed_in: SignedIn,
    return_to: str,
    *,
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    services = services_of(request)
    factor = second_factor(services)
    with_code = factor is not None and await factor.enrolled(signed_in.user)
    t = translator(request)
    token, is_new = csrf_token(request, services.settings.issuer)
    field = "code" if with_code else "password"
    response = render(
        request,
        "account/reauth.html",
        status=status,
        headers=headers,
        title=t("account.reauth_title"),
        username=signed_in.user.email or signed_in.user.username,
        csrf_token=token,
        return_to=return_to,
        with_code=with_code,
        errors={field: error} if error else {},
    )
    return remember_csrf(response, token, is_new, services.settings.issuer)


async def show(request: Request) -> Response:
    services = services_of(request)
    signed_in = await services.sessions.current(session_of(request), caller_of(request))
    return_to = _local_return_to(request, request.query_params.get("return_to"))
    if signed_in is None:
        return login_redirect(request, return_to)
    return await _page(request, signed_in, return_to)


async def submit(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request)
    if form is None or not csrf_ok(request, form, services.settings.issuer):
        return problem_page(request, "flow.forged", status=403)
    return_to = _local_return_to(request, form.get("return_to"))
    signed_in = await services.sessions.current(session_of(request), caller_of(request))
    if signed_in is None:
        return login_redirect(request, return_to)
    t = translator(request)
    caller = caller_of(request)
    factor = second_factor(services)
    try:
        if factor is not None and await factor.enrolled(signed_in.user):
            code = text(form, "code").strip()
            if not code or not await factor.verify(signed_in.user, code, caller):
                return await _page(
                    request, signed_in, return_to, error=t("account.reauth_wrong_code"), status=400
                )
        else:
            await services.users.check_password(signed_in.user, text(form, "password"), caller)
    except InvalidCredentials:
        error = t("account.reauth_wrong_password")
        return await _page(request, signed_in, return_to, error=error, status=400)
    except TooManyRequests as exc:
        retry = str(exc.details.get("retry_after", 60))
        return await _page(
            request,
            signed_in,
            return_to,
            error=t("common.too_many"),
            status=429,
            headers={"Retry-After": retry},
        )
    await services.sessions.reauthenticated(signed_in, caller)
    return see_other(return_to)


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}{REAUTH_PAGE}", show, methods=["GET"], include_in_schema=False),
        Route(f"{prefix}{REAUTH_PAGE}", submit, methods=["POST"], include_in_schema=False),
    ]
