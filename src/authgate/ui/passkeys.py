"""Passkeys on the hosted pages: the endpoints the WebAuthn script (templates/passkeys/
passkeys.js) talks to, and the forms it posts.

Sign-in (`{prefix}/login/passkey/options`, then `{prefix}/login/passkey`) ends like the
password form, in `finish_sign_in` with amr hwk/swk. The account page's section posts to
`{prefix}/account/passkeys[...]`; adding a passkey's challenge is bound to the browser
session. Every POST carries the CSRF token (the script sends it with its fetch too).
A passkey is only offered when the RP ID is a host name: browsers refuse IP addresses.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import NO_STORE, caller_of
from authgate.bootstrap import Services
from authgate.errors import (
    DomainError,
    InvalidRequest,
    NotFound,
    PasskeyCloned,
    PasswordChangeRequired,
    PasswordResetRequired,
    StorageUnavailable,
    TooManyRequests,
    UserDisabled,
    UserNotConfirmed,
)
from authgate.identity.passkey_checks import PasskeySignIn
from authgate.identity.sessions import SignedIn
from authgate.ui.csrf import csrf_ok
from authgate.ui.flow import see_other, services_of
from authgate.ui.forms import read_form, text
from authgate.ui.page_session import account_path, current_signed_in, login_redirect
from authgate.ui.pages import message_page
from authgate.ui.reauth import is_recent, reauth_location
from authgate.ui.signin import carry_query, checked_return_to, finish_sign_in

_LOGIN_ERRORS: dict[type[DomainError], str] = {
    PasskeyCloned: "passkeys.cloned",
    UserDisabled: "login.disabled",
    UserNotConfirmed: "login.unconfirmed",
    PasswordChangeRequired: "passkeys.password_change_required",
    PasswordResetRequired: "login.reset_required",
    TooManyRequests: "common.too_many",
}


def page_binding(signed_in: SignedIn) -> str:
    """What a page's registration challenge is bound to: this browser session."""
    return f"page:{signed_in.session_id}"


def _back(services: Services, form: dict[str, object], status: str) -> Response:
    """After a change: back to the page the form was on (the account page, or the
    passkeys page of its own), announcing `status`."""
    page = account_path(services) + ("/passkeys" if form.get("back") == "passkeys" else "")
    return see_other(f"{page}?status={status}")


async def _form_or_none(request: Request) -> dict[str, object] | None:
    form = await read_form(request)
    if form is None or not csrf_ok(request, form, services_of(request).settings.issuer):
        return None
    return form


def _refused(status: int, location: str | None = None) -> JSONResponse:
    body = {"error": "refused"} | ({"location": location} if location else {})
    return JSONResponse(body, status_code=status, headers=NO_STORE)


# -- sign-in ------------------------------------------------------------------------------


async def login_options(request: Request) -> Response:
    if await _form_or_none(request) is None:
        return _refused(403)
    try:
        started = await services_of(request).passkeys.login_options(None, caller_of(request))
    except TooManyRequests:
        return _refused(429)
    return JSONResponse({"options": started.options, "session": started.session}, headers=NO_STORE)


async def login(request: Request) -> Response:
    services = services_of(request)
    form = await _form_or_none(request)
    if form is None:
        return message_page(request, "flow.problem_title", "flow.forged", status=403, alert=True)
    raw_ticket = text(form, "ticket") or None
    return_to = None if raw_ticket else checked_return_to(request, text(form, "return_to"))
    again = f"{services.settings.ui.prefix}/login{carry_query(raw_ticket, return_to)}"
    credential = text(form, "credential")
    try:
        if not credential:
            raise InvalidRequest("no credential")
        signed: PasskeySignIn = await services.passkeys.sign_in(
            credential, text(form, "session"), caller_of(request)
        )
    except StorageUnavailable:
        raise  # the outage page (server._domain_error), not a form error
    except DomainError as exc:
        key = next((k for c, k in _LOGIN_ERRORS.items() if isinstance(exc, c)), None)
        return message_page(
            request,
            "passkeys.login_failed_title",
            key or "passkeys.login_failed",
            status=403 if key else 400,
            alert=True,
            links=[(again, "passkeys.try_again")],
        )
    return await finish_sign_in(
        request, signed.user, signed.amr, ticket=raw_ticket, return_to=return_to
    )


# -- the account page's section -------------------------------------------------------------


def _reauth_location(services: Services) -> str:
    return reauth_location(services, account_path(services))


async def _owner(request: Request) -> SignedIn | Response:
    """The signed-in, recently proved owner, or the redirect that sends them to prove it."""
    services = services_of(request)
    signed_in = await current_signed_in(request)
    if signed_in is None:
        return login_redirect(request, account_path(services))
    if not is_recent(services, signed_in):
        return see_other(_reauth_location(services))
    return signed_in


async def _owner_form(request: Request) -> tuple[SignedIn, dict[str, object]] | Response:
    """The owner (see `_owner`) and the posted form, once its CSRF token is checked."""
    form = await _form_or_none(request)
    if form is None:
        return _problem(request, "flow.forged", 403)
    signed_in = await _owner(request)
    if isinstance(signed_in, Response):
        return signed_in
    return signed_in, form


async def registration_options(request: Request) -> Response:
    services = services_of(request)
    if await _form_or_none(request) is None:
        return _refused(403)
    signed_in = await _owner(request)
    if isinstance(signed_in, Response):
        return _refused(401, _reauth_location(services))
    try:
        options = await services.passkeys.registration_options(
            signed_in.user, page_binding(signed_in)
        )
    except InvalidRequest:
        return _refused(400)
    return JSONResponse({"options": options}, headers=NO_STORE)


def _problem(request: Request, key: str, status: int = 400) -> Response:
    account = account_path(services_of(request))
    return message_page(
        request,
        "passkeys.problem_title",
        key,
        status=status,
        alert=True,
        links=[(account, "passkeys.back_to_account")],
    )


async def add(request: Request) -> Response:
    owner = await _owner_form(request)
    if isinstance(owner, Response):
        return owner
    signed_in, form = owner
    services = services_of(request)
    try:
        await services.passkeys.register(
            signed_in.user,
            page_binding(signed_in),
            text(form, "credential"),
            text(form, "name") or None,
            caller_of(request),
        )
    except StorageUnavailable:
        raise  # the outage page (server._domain_error), not a form error
    except DomainError as exc:
        key = (
            "passkeys.name_invalid" if exc.details.get("field") == "name" else "passkeys.add_failed"
        )
        return _problem(request, key)
    return _back(services, form, "passkey_added")


async def rename(request: Request) -> Response:
    return await _change(request, "rename")


async def remove(request: Request) -> Response:
    return await _change(request, "remove")


async def _change(request: Request, action: str) -> Response:
    owner = await _owner_form(request)
    if isinstance(owner, Response):
        return owner
    signed_in, form = owner
    services = services_of(request)
    passkey_id, caller = request.path_params["passkey_id"], caller_of(request)
    try:
        if action == "rename":
            await services.passkeys.rename(signed_in.user, passkey_id, text(form, "name"), caller)
        else:
            await services.passkeys.remove(signed_in.user, passkey_id, caller)
    except NotFound:
        return _problem(request, "passkeys.not_found", 404)
    except InvalidRequest:
        return _problem(request, "passkeys.name_invalid")
    return _back(services, form, "passkey_renamed" if action == "rename" else "passkey_removed")


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}/login/passkey/options", login_options, methods=["POST"]),
        Route(f"{prefix}/login/passkey", login, methods=["POST"]),
        Route(f"{prefix}/account/passkeys/options", registration_options, methods=["POST"]),
        Route(f"{prefix}/account/passkeys", add, methods=["POST"]),
        Route(f"{prefix}/account/passkeys/{{passkey_id}}/rename", rename, methods=["POST"]),
        Route(f"{prefix}/account/passkeys/{{passkey_id}}/delete", remove, methods=["POST"]),
    ]
