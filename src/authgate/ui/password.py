"""Password reset pages: `{prefix}/password/forgot` and `{prefix}/password/reset`.

Forgot asks for the username and always answers the same way, whether or not the account
exists (the reset page, saying a code was sent if the account exists). Reset takes the
username, the mailed code and a new password; a refused password lists the broken policy
rules next to the field. Success ends every sign-in of the user (the domain's rule) and
offers the sign-in page, carrying on the OAuth `ticket` or `return_to`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.errors import InvalidCode, InvalidPassword, InvalidRequest, TooManyRequests
from authgate.ui.flow import see_other, services_of
from authgate.ui.formpage import (
    MAX_FIELD,
    carried,
    code_page,
    form_page,
    posted_form,
    query_username,
    retry_after,
)
from authgate.ui.forms import text
from authgate.ui.pages import message_page, translator
from authgate.ui.signin import carry_fields, carry_query, policy_message


async def show_forgot(request: Request) -> Response:
    ticket, return_to = carried(request)
    return form_page(
        request, "password_forgot.html", ticket=ticket, return_to=return_to, username=""
    )


async def submit_forgot(request: Request) -> Response:
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    services, t = services_of(request), translator(request)
    ticket, return_to = carried(request, form)
    username = text(form, "username")[:MAX_FIELD]

    def again(
        errors: dict[str, str], status: int, headers: dict[str, str] | None = None
    ) -> Response:
        return form_page(
            request,
            "password_forgot.html",
            errors=errors,
            status=status,
            headers=headers,
            ticket=ticket,
            return_to=return_to,
            username=username,
        )

    if not username:
        return again({"username": t("login.missing_username")}, 400)
    try:
        await services.users.recovery.forgot_password(username, caller_of(request))
    except TooManyRequests as exc:
        return again({"": t("common.too_many")}, 429, retry_after(exc))
    except InvalidRequest:
        pass  # a name that cannot exist answers like any other: a code "was sent"
    query = {"username": username, "sent": "1", **carry_fields(ticket, return_to)}
    return see_other(f"{services.settings.ui.prefix}/password/reset?{urlencode(query)}")


def _reset_page(
    request: Request,
    ticket: str | None,
    return_to: str | None,
    username: str,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return code_page(
        request,
        "password_reset.html",
        ticket,
        return_to,
        username,
        errors=errors,
        notice=notice,
        status=status,
        headers=headers,
        min_length=services_of(request).settings.passwords.min_length,
    )


async def show_reset(request: Request) -> Response:
    ticket, return_to = carried(request)
    username = query_username(request)
    sent = request.query_params.get("sent") == "1"
    notice = translator(request)("password.sent") if sent else None
    return _reset_page(request, ticket, return_to, username, notice=notice)


async def submit_reset(request: Request) -> Response:
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    services, t = services_of(request), translator(request)
    ticket, return_to = carried(request, form)
    username = text(form, "username")[:MAX_FIELD]
    code, new_password = text(form, "code").strip(), text(form, "new_password")

    def again(
        errors: dict[str, str], status: int = 400, headers: dict[str, str] | None = None
    ) -> Response:
        return _reset_page(
            request, ticket, return_to, username, errors=errors, status=status, headers=headers
        )

    missing = {
        name: t(f"password.missing_{name}")
        for name, value in (("username", username), ("code", code), ("new_password", new_password))
        if not value
    }
    if missing:
        return again(missing)
    try:
        await services.users.recovery.reset_password(
            username, code, new_password, caller_of(request)
        )
    except TooManyRequests as exc:
        return again({"": t("common.too_many")}, 429, retry_after(exc))
    except InvalidPassword as exc:
        return again({"new_password": policy_message(t, services.users.policy, exc)})
    except (InvalidCode, InvalidRequest):
        return again({"code": t("password.invalid_code")})
    login = f"{services.settings.ui.prefix}/login{carry_query(ticket, return_to)}"
    return message_page(
        request, "password.done_title", "password.done", links=[(login, "signup.sign_in")]
    )


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}/password/forgot", show_forgot, methods=["GET"]),
        Route(f"{prefix}/password/forgot", submit_forgot, methods=["POST"]),
        Route(f"{prefix}/password/reset", show_reset, methods=["GET"]),
        Route(f"{prefix}/password/reset", submit_reset, methods=["POST"]),
    ]
