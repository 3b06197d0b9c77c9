"""The second-factor page, `{prefix}/login/mfa`: after a right password, a TOTP code or a
recovery code finishes the sign-in (or, with `mfa: required`, enrolling one does).

The challenge session (identity/challenges.py) travels in the `authgate_mfa` cookie that
the password page set (HttpOnly, never in a URL); `ticket`/`return_to` travel as on every
page. A right code calls the password page's `finish_sign_in` with the amr the challenge
ends with (["pwd", "otp"] or ["pwd", "mfa"]). Wrong codes are said next to the field; the
fifth ends the session, and then, as for an expired one, the person signs in again.

An enrolment challenge shows the QR code (inline SVG that segno drew from our own URI,
so it is markup we made) and the secret to type, then the recovery codes once, with a
link that goes on (the browser session starts as that page is answered).

`passkey_slot` in the template is where the passkeys work adds "use a passkey".
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.cookie_names import MFA_COOKIE
from authgate.errors import (
    InvalidCode,
    InvalidMfaSession,
    MfaDisabled,
    NoPendingEnrolment,
    TooManyRequests,
)
from authgate.identity.challenges import Completed
from authgate.ui.cookies import clear_cookie
from authgate.ui.flow import services_of
from authgate.ui.formpage import form_page, posted_form
from authgate.ui.forms import text
from authgate.ui.pages import message_page, translator
from authgate.ui.signin import checked_return_to, finish_sign_in

MFA_PAGE = "/login/mfa"


def _carried(request: Request, ticket: object, return_to: object) -> tuple[str | None, str | None]:
    raw_ticket = ticket if isinstance(ticket, str) and ticket else None
    target = None if raw_ticket else checked_return_to(request, return_to)
    return raw_ticket, target


def _again_to_login(request: Request) -> Response:
    """The challenge is gone (expired, spent, ended by wrong codes): sign in again."""
    response = message_page(request, "mfa.title", "mfa.expired", status=400, alert=True)
    clear_cookie(response, MFA_COOKIE, services_of(request).settings.issuer)
    return response


async def _page(
    request: Request,
    ticket: str | None,
    return_to: str | None,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    services = services_of(request)
    session = request.cookies.get(MFA_COOKIE)
    kind = await services.mfa_login.kind_of(session)
    if kind is None:
        return _again_to_login(request)
    enrolment = None
    if kind == "mfa_setup":
        enrolment = await services.mfa_login.setup(session, caller_of(request), keep=True)
    passkeys = False
    if kind == "totp" and services.passkeys.browsers_can_use:
        holder = await services.mfa_login.holder(session)
        passkeys = holder is not None and bool(await services.passkeys.list(holder))
    return form_page(
        request,
        "login_mfa.html",
        errors=errors,
        status=status,
        headers=headers,
        ticket=ticket,
        return_to=return_to,
        setup=enrolment is not None,
        secret=enrolment.secret if enrolment else "",
        qr_svg=Markup(enrolment.qr_svg) if enrolment else "",  # noqa: S704 (segno's SVG of our URI)
        script=passkeys,
        passkeys_offered=passkeys,
        passkey_button_key="passkeys.use_passkey",
    )


async def show(request: Request) -> Response:
    ticket, return_to = _carried(
        request, request.query_params.get("ticket"), request.query_params.get("return_to")
    )
    return await _page(request, ticket, return_to)


async def submit(request: Request) -> Response:
    services = services_of(request)
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    ticket, return_to = _carried(request, text(form, "ticket"), text(form, "return_to"))
    session = request.cookies.get(MFA_COOKIE)
    code = text(form, "code").strip()
    t = translator(request)
    if not code:
        missing = t("mfa.code_missing")
        return await _page(request, ticket, return_to, errors={"": missing, "code": missing})
    caller = caller_of(request)
    recovery_codes: list[str] | None = None
    try:
        if text(form, "setup"):
            completed, recovery_codes = await services.mfa_login.setup_verify(session, code, caller)
        else:
            completed = await services.mfa_login.answer(session, caller, code=code)
    except (InvalidMfaSession, NoPendingEnrolment, MfaDisabled):
        return _again_to_login(request)
    except InvalidCode:
        wrong = t("mfa.code_wrong")
        return await _page(
            request, ticket, return_to, errors={"": wrong, "code": wrong}, status=400
        )
    except TooManyRequests as exc:
        retry = str(exc.details.get("retry_after", 60))
        return await _page(
            request,
            ticket,
            return_to,
            errors={"": t("common.too_many")},
            status=429,
            headers={"Retry-After": retry},
        )
    return await _finished(request, completed, recovery_codes, ticket, return_to)


async def _finished(
    request: Request,
    completed: Completed,
    recovery_codes: list[str] | None,
    ticket: str | None,
    return_to: str | None,
) -> Response:
    onward = await finish_sign_in(
        request, completed.user, completed.amr, ticket=ticket, return_to=return_to
    )
    if recovery_codes is None or "location" not in onward.headers:
        return onward
    shown = form_page(
        request,
        "login_mfa_codes.html",
        recovery_codes=recovery_codes,
        continue_to=onward.headers["location"],
    )
    for name, value in onward.raw_headers:
        if name.lower() == b"set-cookie":
            shown.raw_headers.append((name, value))
    return shown


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}{MFA_PAGE}", show, methods=["GET"]),
        Route(f"{prefix}{MFA_PAGE}", submit, methods=["POST"]),
    ]
