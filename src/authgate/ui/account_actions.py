"""The account page's changes, one POST path each under `{prefix}/account/`.

Each checks the CSRF token first, then the session (none: to the sign-in page), then, for a
sensitive change (email, password, delete), that the session proved who it is within
`ui.reauth_after` (else to the re-authentication page). Form fields per path:
`profile`: the editable attributes by name; `email`: `new_email`; `email/verify`:
`email_code`; `password`: `current_password`, `new_password`; `sessions/end`: `session`
(a public id); `sessions/end-others`: none; `apps/revoke`: `client_id`; `delete`:
`delete_password`, `confirm` (the username, typed). Every one carries `csrf_token`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.errors import (
    InvalidAttribute,
    InvalidCode,
    InvalidCredentials,
    InvalidPassword,
    InvalidRequest,
    InvalidToken,
    NotFound,
    TooManyRequests,
)
from authgate.identity.names import normalize_email
from authgate.identity.sessions import SignedIn
from authgate.ui.account import (
    DELETED_PAGE,
    Errors,
    account_page,
    done,
    editable_attributes,
    signed_in_here,
)
from authgate.ui.cookies import SESSION_COOKIE, clear_cookie
from authgate.ui.csrf import csrf_ok
from authgate.ui.flow import problem_page, see_other, services_of
from authgate.ui.forms import read_form, text
from authgate.ui.page_session import account_path, login_redirect
from authgate.ui.pages import translator
from authgate.ui.reauth import require_recent_auth
from authgate.ui.signin import policy_message

Action = Callable[[Request, SignedIn, dict[str, Any]], Awaitable[Response]]


def _action(action: Action, *, sensitive: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Wrap `action` in the checks every change needs, in order: CSRF, session, recency."""

    async def endpoint(request: Request) -> Response:
        services = services_of(request)
        form = await read_form(request)
        if form is None:
            return problem_page(request, "flow.unreadable")
        if not csrf_ok(request, form, services.settings.issuer):
            return problem_page(request, "flow.forged", status=403)
        signed_in = await signed_in_here(request)
        if signed_in is None:
            return login_redirect(request, account_path(services))
        if sensitive:
            redirect = require_recent_auth(request, signed_in)
            if redirect is not None:
                return redirect
        try:
            return await action(request, signed_in, form)
        except InvalidToken:  # the account went away meanwhile
            return login_redirect(request, account_path(services))

    return endpoint


async def _again(
    request: Request,
    signed_in: SignedIn,
    errors: Errors,
    status: int = 400,
    submitted: dict[str, Any] | None = None,
) -> Response:
    return await account_page(
        request, signed_in, errors=errors, submitted=submitted, http_status=status
    )


def _attribute_values(request: Request, form: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    """The profile form's values typed as declared; errors for those that are not."""
    t = translator(request)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, kind, _ in editable_attributes(services_of(request)):
        raw = text(form, name).strip()
        if kind == "boolean":
            values[name] = raw == "true"
        elif not raw:
            values[name] = None
        elif kind == "number":
            try:
                values[name] = int(raw)
            except ValueError:
                try:
                    values[name] = float(raw)
                except ValueError:
                    errors[name] = t("account.profile_not_a_number")
        else:
            values[name] = raw
    return values, ({"profile": errors} if errors else {})


async def update_profile(request: Request, signed_in: SignedIn, form: dict[str, Any]) -> Response:
    services = services_of(request)
    values, errors = _attribute_values(request, form)
    if errors:
        return await _again(request, signed_in, errors, submitted=form)
    try:
        await services.users.update_profile(signed_in.user, values, caller_of(request))
    except InvalidAttribute as exc:
        name = str(exc.details.get("attribute", ""))
        message = translator(request)("account.profile_invalid")
        return await _again(request, signed_in, {"profile": {name: message}}, submitted=form)
    return done(request, "profile_saved")


async def change_email(request: Request, signed_in: SignedIn, form: dict[str, Any]) -> Response:
    services = services_of(request)
    t = translator(request)
    address = text(form, "new_email").strip()

    def error(key: str) -> Errors:
        return {"email": {"new_email": t(key)}}

    if not address:
        return await _again(request, signed_in, error("account.email_missing"))
    try:
        if normalize_email(address) == signed_in.user.email:
            return await _again(request, signed_in, error("account.email_same"))
        await services.users.update_profile(signed_in.user, {"email": address}, caller_of(request))
    except InvalidRequest:
        return await _again(request, signed_in, error("account.email_invalid"))
    except TooManyRequests:
        return await _again(request, signed_in, error("account.email_too_many"), status=429)
    return done(request, "email_code_sent")


async def verify_email(request: Request, signed_in: SignedIn, form: dict[str, Any]) -> Response:
    services = services_of(request)
    try:
        await services.users.verify_email(
            signed_in.user, text(form, "email_code").strip(), caller_of(request)
        )
    except InvalidCode:
        message = translator(request)("account.email_wrong_code")
        return await _again(request, signed_in, {"email": {"email_code": message}})
    return done(request, "email_verified")


async def change_password(request: Request, signed_in: SignedIn, form: dict[str, Any]) -> Response:
    services = services_of(request)
    t = translator(request)
    current, new = text(form, "current_password"), text(form, "new_password")
    if not current or not new:
        given = {"current_password": current, "new_password": new}
        missing = {name: t("account.password_missing") for name, v in given.items() if not v}
        return await _again(request, signed_in, {"password": missing})
    try:
        await services.users.change_password(
            signed_in.user,
            current,
            new,
            caller_of(request),
            keep_jti=None,
            keep_session=signed_in.session_id,
        )
    except InvalidCredentials:
        errors = {"current_password": t("account.password_wrong")}
        return await _again(request, signed_in, {"password": errors})
    except InvalidPassword as exc:
        errors = {"new_password": policy_message(t, services.users.policy, exc)}
        return await _again(request, signed_in, {"password": errors})
    except TooManyRequests:
        errors = {"current_password": t("common.too_many")}
        return await _again(request, signed_in, {"password": errors}, status=429)
    return done(request, "password_changed")


async def end_session(request: Request, signed_in: SignedIn, form: dict[str, Any]) -> Response:
    services = services_of(request)
    try:
        await services.sessions.end_one(signed_in.user, text(form, "session"), caller_of(request))
    except NotFound:
        errors = {"sessions": {"": translator(request)("account.sessions_not_found")}}
        return await _again(request, signed_in, errors, status=404)
    return done(request, "session_ended")


async def end_other_sessions(
    request: Request, signed_in: SignedIn, form: dict[str, Any]
) -> Response:
    await services_of(request).sessions.end_all(
        signed_in.user, caller_of(request), keep=signed_in.session_id
    )
    return done(request, "sessions_ended")


async def revoke_app(request: Request, signed_in: SignedIn, form: dict[str, Any]) -> Response:
    services = services_of(request)
    try:
        await services.consents.revoke(
            signed_in.user.sub, text(form, "client_id"), caller_of(request)
        )
    except NotFound:
        errors = {"apps": {"": translator(request)("account.apps_not_found")}}
        return await _again(request, signed_in, errors, status=404)
    return done(request, "app_revoked")


async def delete_account(request: Request, signed_in: SignedIn, form: dict[str, Any]) -> Response:
    services = services_of(request)
    t = translator(request)
    user = signed_in.user
    if text(form, "confirm").strip() != user.username:
        errors = {"confirm": t("account.delete_confirm_wrong", username=user.username)}
        return await _again(request, signed_in, {"delete": errors})
    try:
        await services.users.delete_account(user, text(form, "delete_password"), caller_of(request))
    except InvalidCredentials:
        errors = {"delete_password": t("account.password_wrong")}
        return await _again(request, signed_in, {"delete": errors})
    except TooManyRequests:
        errors = {"delete_password": t("common.too_many")}
        return await _again(request, signed_in, {"delete": errors}, status=429)
    response = see_other(f"{services.settings.ui.prefix}{DELETED_PAGE}")
    clear_cookie(response, SESSION_COOKIE, services.settings.issuer)
    return response


_ACTIONS: list[tuple[str, Action, bool]] = [
    # (path under {prefix}/account, the change, whether it is sensitive)
    ("profile", update_profile, False),
    ("email", change_email, True),
    ("email/verify", verify_email, False),
    ("password", change_password, True),
    ("sessions/end", end_session, False),
    ("sessions/end-others", end_other_sessions, False),
    ("apps/revoke", revoke_app, False),
    ("delete", delete_account, True),
]


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(
            f"{prefix}/account/{path}",
            _action(action, sensitive=sensitive),
            methods=["POST"],
            include_in_schema=False,
        )
        for path, action, sensitive in _ACTIONS
    ]
