"""Sign-up pages: `{prefix}/signup` and `{prefix}/signup/confirm` (with "send again").

Sign-up asks for the email, a password, a username when `user_pool.username_from_email`
is off, and every declared custom attribute as a field of its type (number, checkbox, text
with its maximum length). A taken username answers exactly like a new one (the domain
mails the owner a notice instead), so both lead to the confirm page. Confirming takes the
mailed code; "send again" answers alike whether or not the account exists. The OAuth
`ticket` or a `return_to` is carried through, so "sign in" afterwards continues there.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.config import AttributeDeclaration
from authgate.errors import (
    InvalidAttribute,
    InvalidCode,
    InvalidPassword,
    InvalidRequest,
    InvalidUsername,
    SignupRefused,
    TooManyRequests,
)
from authgate.ui.flow import LOGIN_PAGE, see_other, services_of
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
from authgate.ui.i18n import Translate
from authgate.ui.pages import message_page, translator
from authgate.ui.signin import carry_fields, carry_query, policy_message


def attribute_fields(request: Request) -> list[dict[str, Any]]:
    """The declared custom attributes as form fields: name, label, input type, limits."""
    t = translator(request)
    fields = []
    for name, declaration in services_of(request).settings.user_pool.custom_attributes.items():
        key = f"attribute.{name}"
        label = t(key)
        fields.append(
            {
                "name": f"custom:{name}",
                "label": name if label == key else label,
                "type": {"number": "number", "boolean": "checkbox"}.get(declaration.type, "text"),
                "required": declaration.required and declaration.type != "boolean",
                "attrs": _limits(declaration),
            }
        )
    return fields


def _limits(declaration: AttributeDeclaration) -> dict[str, str]:
    if declaration.type == "string":
        return {"maxlength": str(declaration.max_length)}
    if declaration.type == "number":
        return {"step": "any"}
    return {}


def _attribute_values(
    request: Request, form: dict[str, Any], t: Translate
) -> tuple[dict[str, Any], dict[str, str]]:
    """The attributes the form gives, typed, and an error per field that cannot be read."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, declaration in services_of(request).settings.user_pool.custom_attributes.items():
        field = f"custom:{name}"
        raw = text(form, field)
        if declaration.type == "boolean":
            values[field] = raw == "true"
        elif not raw:
            continue
        elif declaration.type == "number":
            number = _number(raw)
            if number is None:
                errors[field] = t("signup.not_a_number")
            else:
                values[field] = number
        else:
            values[field] = raw
    return values, errors


def _number(raw: str) -> int | float | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and "." not in raw and "e" not in raw else number


def _signup_page(
    request: Request,
    ticket: str | None,
    return_to: str | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    settings = services_of(request).settings
    return form_page(
        request,
        "signup.html",
        errors=errors,
        status=status,
        headers=headers,
        ticket=ticket,
        return_to=return_to,
        values=values or {},
        ask_username=not settings.user_pool.username_from_email,
        attributes=attribute_fields(request),
        min_length=settings.passwords.min_length,
    )


async def show_signup(request: Request) -> Response:
    ticket, return_to = carried(request)
    return _signup_page(request, ticket, return_to)


async def submit_signup(request: Request) -> Response:
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    services, t = services_of(request), translator(request)
    ticket, return_to = carried(request, form)
    ask_username = not services.settings.user_pool.username_from_email
    email, password = text(form, "email"), text(form, "password")
    username = text(form, "username") if ask_username else None
    attributes, errors = _attribute_values(request, form, t)
    shown = {k: v for k, v in form.items() if k != "password" and isinstance(v, str)}

    def again(
        errors: dict[str, str], status: int = 400, headers: dict[str, str] | None = None
    ) -> Response:
        return _signup_page(
            request,
            ticket,
            return_to,
            values=shown,
            errors=errors,
            status=status,
            headers=headers,
        )

    required = {"email": email, "password": password}
    if ask_username:
        required["username"] = username or ""
    for name, value in required.items():
        if not value:
            errors[name] = t(f"signup.missing_{name}")
    if errors:
        return again(errors)
    try:
        outcome = await services.users.signups.signup(
            email, password, username, attributes, caller_of(request)
        )
    except SignupRefused as exc:
        return again({"": exc.message})  # the hook's own words; the page escapes them
    except TooManyRequests as exc:
        return again({"": t("common.too_many")}, 429, retry_after(exc))
    except InvalidPassword as exc:
        return again({"password": policy_message(t, services.users.policy, exc)})
    except InvalidUsername:
        return again({"username": t("signup.invalid_username")})
    except InvalidAttribute as exc:
        field = str(exc.details.get("attribute", ""))
        return again({field: t("signup.invalid_attribute")})
    except InvalidRequest as exc:
        field = str(exc.details.get("field", "email"))
        if field not in required:
            field = "email"
        return again({field: t(f"signup.invalid_{field}")})
    query = {"username": (username if ask_username else None) or email}
    query.update(carry_fields(ticket, return_to))
    prefix = services.settings.ui.prefix
    if outcome.confirmed:  # the pre_signup hook confirmed it: no code to enter
        return see_other(f"{prefix}{LOGIN_PAGE}?{urlencode(carry_fields(ticket, return_to))}")
    return see_other(f"{prefix}/signup/confirm?{urlencode(query)}")


async def show_confirm(request: Request) -> Response:
    ticket, return_to = carried(request)
    return code_page(request, "signup_confirm.html", ticket, return_to, query_username(request))


async def submit_confirm(request: Request) -> Response:
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    services, t = services_of(request), translator(request)
    ticket, return_to = carried(request, form)
    username, code = text(form, "username")[:MAX_FIELD], text(form, "code").strip()
    caller = caller_of(request)

    def again(
        errors: dict[str, str] | None = None,
        status: int = 400,
        notice: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return code_page(
            request,
            "signup_confirm.html",
            ticket,
            return_to,
            username,
            errors=errors,
            status=status,
            notice=notice,
            headers=headers,
        )

    if not username:
        return again({"username": t("signup.missing_username")})
    try:
        if text(form, "action") == "resend":
            await services.users.signups.resend_code(username, caller)
            return again(notice=t("signup.resent"), status=200)
        if not code:
            return again({"code": t("signup.missing_code")})
        await services.users.signups.confirm_signup(username, code, caller)
    except TooManyRequests as exc:
        return again({"": t("common.too_many")}, 429, headers=retry_after(exc))
    except InvalidCode:
        return again({"code": t("signup.invalid_code")})
    except InvalidRequest:
        return again({"username": t("signup.invalid_username")})
    prefix = services.settings.ui.prefix
    login = f"{prefix}/login{carry_query(ticket, return_to)}"
    return message_page(
        request, "signup.confirmed_title", "signup.confirmed", links=[(login, "signup.sign_in")]
    )


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}/signup", show_signup, methods=["GET"]),
        Route(f"{prefix}/signup", submit_signup, methods=["POST"]),
        Route(f"{prefix}/signup/confirm", show_confirm, methods=["GET"]),
        Route(f"{prefix}/signup/confirm", submit_confirm, methods=["POST"]),
    ]
