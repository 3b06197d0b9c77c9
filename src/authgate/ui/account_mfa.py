"""The account page's MFA section: enrol a TOTP app (QR code), turn it on with its first
code, turn it off, get new recovery codes.

`section` gives the account page (ui/account.py) what `account/mfa.html` shows as `mfa`;
the same template also stands in its own page, `{prefix}/account/mfa`, which every form of
the section posts to and which shows what only one answer may show (the QR code of a
pending enrolment, the recovery codes, once). Each change asks for the password in the
form (re-authentication), and turning off or renewing codes also for a code from the app
or a recovery code, exactly as `/v1/me/mfa/*` does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.audit import Caller
from authgate.errors import (
    DomainError,
    InvalidCode,
    InvalidCredentials,
    MfaDisabled,
    MfaNotEnabled,
    MfaRequired,
    NoPendingEnrolment,
    StorageUnavailable,
    TooManyRequests,
)
from authgate.identity.mfa import Enrolment, PasswordCheck
from authgate.identity.sessions import SignedIn
from authgate.store.records import UserRecord
from authgate.ui.flow import see_other, services_of
from authgate.ui.formpage import form_page, posted_form
from authgate.ui.forms import text
from authgate.ui.page_session import signed_in_or_login
from authgate.ui.pages import translator

SECTION_PAGE = "/account/mfa"
_ERRORS: dict[type[DomainError], str] = {
    InvalidCredentials: "login.incorrect",
    InvalidCode: "mfa.code_wrong",
    TooManyRequests: "common.too_many",
    MfaRequired: "mfa.required_note",
    MfaDisabled: "mfa.unavailable",
    MfaNotEnabled: "mfa.status_off",
    NoPendingEnrolment: "mfa.code_wrong",
}
_STATUS = ("turned_off",)

Form = dict[str, Any]
Change = Callable[[Request, SignedIn, Form], Awaitable[Response]]
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


async def section(
    request: Request,
    signed_in: SignedIn,
    *,
    enrolment: Enrolment | None = None,
    recovery_codes: list[str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """What `account/mfa.html` shows: the state, and a pending QR code or new codes."""
    services = services_of(request)
    mode = services.mfa.mode
    status = await services.mfa.status(signed_in.user.sub)
    return {
        "available": mode != "off",
        "required": mode == "required",
        "totp": status.totp,
        "recovery_codes_left": status.recovery_codes_left,
        "secret": enrolment.secret if enrolment else None,
        "qr_svg": Markup(enrolment.qr_svg) if enrolment else None,  # noqa: S704 (segno's SVG)
        "recovery_codes": recovery_codes,
        "errors": errors or {},
        "notice": notice,
    }


async def _page(request: Request, signed_in: SignedIn, **parts: Any) -> Response:
    status = 400 if parts.get("errors") else 200
    mfa = await section(request, signed_in, **parts)
    return form_page(request, "account_mfa.html", status=status, mfa=mfa)


def _failure(request: Request, exc: DomainError, field: str) -> dict[str, str]:
    t = translator(request)
    key = next((k for cls, k in _ERRORS.items() if isinstance(exc, cls)), "mfa.code_wrong")
    return {"": t(key), field: t(key)}


async def show(request: Request) -> Response:
    signed_in = await signed_in_or_login(request)
    if isinstance(signed_in, Response):
        return signed_in
    shown = request.query_params.get("status")
    notice = translator(request)(f"mfa.{shown}") if shown in _STATUS else None
    return await _page(request, signed_in, notice=notice)


def _posted(change: Change) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint for `change`: the session first (none: to the sign-in page), then the
    form and its CSRF token."""

    async def endpoint(request: Request) -> Response:
        signed_in = await signed_in_or_login(request)
        if isinstance(signed_in, Response):
            return signed_in
        form = await posted_form(request)
        if isinstance(form, Response):
            return form
        return await change(request, signed_in, form)

    return endpoint


async def enrol(request: Request, signed_in: SignedIn, form: Form) -> Response:
    services = services_of(request)
    try:
        enrolment = await services.mfa.enrol(
            signed_in.user,
            caller_of(request),
            check_password=services.users.check_password,
            password=text(form, "password"),
            code=text(form, "code") or None,
        )
    except StorageUnavailable:
        raise  # the outage page (server._domain_error), not a form error
    except DomainError as exc:
        field = "code" if isinstance(exc, InvalidCode) else "password"
        return await _page(request, signed_in, errors=_failure(request, exc, field))
    return await _page(request, signed_in, enrolment=enrolment)


async def verify(request: Request, signed_in: SignedIn, form: Form) -> Response:
    services = services_of(request)
    t = translator(request)
    try:
        codes = await services.mfa.finish_enrolment(
            signed_in.user, text(form, "code").strip(), caller_of(request)
        )
    except StorageUnavailable:
        raise  # the outage page (server._domain_error), not a form error
    except DomainError as exc:
        async with services.store.read() as tx:
            pending = await services.mfa.pending(tx, signed_in.user)
        errors = _failure(request, exc, "code")
        return await _page(request, signed_in, enrolment=pending, errors=errors)
    return await _page(request, signed_in, recovery_codes=codes, notice=t("mfa.turned_on"))


class _CodeChange(Protocol[T_co]):
    """`Mfa.disable` or `Mfa.regenerate`: a change that needs the password and a code."""

    def __call__(
        self,
        user: UserRecord,
        code: object,
        caller: Caller,
        *,
        check_password: PasswordCheck | None = None,
        password: object = None,
    ) -> Awaitable[T_co]: ...


async def _with_password_and_code(
    request: Request, signed_in: SignedIn, form: Form, change: _CodeChange[T]
) -> T | Response:
    """What `change` answers, given the form's password and code; or the section again with
    the refusal next to the field it concerns."""
    services = services_of(request)
    try:
        return await change(
            signed_in.user,
            text(form, "code").strip(),
            caller_of(request),
            check_password=services.users.check_password,
            password=text(form, "password"),
        )
    except StorageUnavailable:
        raise  # the outage page (server._domain_error), not a form error
    except DomainError as exc:
        field = "password" if isinstance(exc, InvalidCredentials) else "code"
        return await _page(request, signed_in, errors=_failure(request, exc, field))


async def disable(request: Request, signed_in: SignedIn, form: Form) -> Response:
    services = services_of(request)
    refused = await _with_password_and_code(request, signed_in, form, services.mfa.disable)
    if isinstance(refused, Response):
        return refused
    prefix = services.settings.ui.prefix
    return see_other(f"{prefix}{SECTION_PAGE}?status=turned_off")


async def regenerate(request: Request, signed_in: SignedIn, form: Form) -> Response:
    services = services_of(request)
    codes = await _with_password_and_code(request, signed_in, form, services.mfa.regenerate)
    if isinstance(codes, Response):
        return codes
    t = translator(request)
    return await _page(request, signed_in, recovery_codes=codes, notice=t("mfa.new_codes"))


def routes(prefix: str) -> list[BaseRoute]:
    base = f"{prefix}{SECTION_PAGE}"
    return [
        Route(base, show, methods=["GET"]),
        Route(f"{base}/totp", _posted(enrol), methods=["POST"]),
        Route(f"{base}/totp/verify", _posted(verify), methods=["POST"]),
        Route(f"{base}/totp/disable", _posted(disable), methods=["POST"]),
        Route(f"{base}/recovery-codes", _posted(regenerate), methods=["POST"]),
    ]
