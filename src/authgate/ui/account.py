"""The account page, `{prefix}/account`: everything a signed-in person may do to their account.

One page of sections (profile, email, password, MFA, passkeys, signed-in sessions, apps with
consent, delete), each with its own form posting to its own path (ui/account_actions.py).
A change that works redirects back here with `?status=<key>`, a message key from a fixed
list (never text from the request), announced through the page's aria-live status region;
one that fails shows the page again with the error next to its field. The MFA and passkey
sections come from ui/account_mfa.py and ui/account_passkeys.py, included as templates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.api.requests import caller_of
from authgate.bootstrap import Services
from authgate.errors import NotFound
from authgate.identity.attributes import STANDARD_ATTRIBUTES
from authgate.identity.sessions import SignedIn
from authgate.store.records import UserRecord
from authgate.ui import account_mfa, account_passkeys, federation_section
from authgate.ui.cookies import session_of
from authgate.ui.csrf import csrf_token, remember_csrf
from authgate.ui.flow import see_other, services_of
from authgate.ui.i18n import Translate
from authgate.ui.page_session import ACCOUNT_PAGE, account_path, login_redirect
from authgate.ui.pages import message_page, render, translator
from authgate.ui.reauth import is_recent
from authgate.ui.scopes import describe

DELETED_PAGE = "/account/deleted"
PROFILE_STANDARD = ("name",)
"""Standard attributes the profile form offers, besides the pool's mutable custom ones."""
_OWN_STATUS = (
    "profile_saved",
    "email_code_sent",
    "email_verified",
    "password_changed",
    "session_ended",
    "sessions_ended",
    "app_revoked",
)
STATUS_MESSAGES = {
    **{key: f"account.status.{key}" for key in _OWN_STATUS},
    **{key: f"passkeys.status.{key}" for key in account_passkeys.STATUS_KEYS},
    **{key: f"federation.status.{key}" for key in federation_section.STATUS_KEYS},
}
"""The `?status=` values the page announces (any other is ignored), with their messages."""
Errors = dict[str, dict[str, str]]
"""Errors per section (`profile`, `email`, ...), each mapping a field name to its message."""


@dataclass(frozen=True)
class ProfileField:
    """One editable attribute as the profile form shows it."""

    name: str
    label: str
    kind: str  # string | number | boolean
    value: str
    required: bool = False
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def input_type(self) -> str:
        return "checkbox" if self.kind == "boolean" else "text"


def editable_attributes(services: Services) -> list[tuple[str, str, bool]]:
    """(attribute, type, required) the person may change: `name` and every mutable
    custom attribute the pool declares."""
    found = [(name, STANDARD_ATTRIBUTES[name], False) for name in PROFILE_STANDARD]
    for name, declared in services.settings.user_pool.custom_attributes.items():
        if declared.mutable:
            found.append((f"custom:{name}", declared.type, declared.required))
    return found


def _shown(value: object, kind: str) -> str:
    if value is None:
        return ""
    if kind == "boolean":
        return "true" if value is True else ""
    return str(value)


def profile_fields(
    services: Services, user: UserRecord, t: Translate, submitted: dict[str, Any] | None
) -> list[ProfileField]:
    fields = []
    for name, kind, required in editable_attributes(services):
        if submitted is not None:
            raw = submitted.get(name)
            value = raw if isinstance(raw, str) else ""
        else:
            value = _shown(user.attributes.get(name), kind)
        label = t(f"account.attribute.{name}") if name in PROFILE_STANDARD else name[7:]
        attrs = {"inputmode": "decimal"} if kind == "number" else {}
        fields.append(ProfileField(name, label, kind, value, required, attrs))
    return fields


def when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


async def signed_in_here(request: Request) -> SignedIn | None:
    """This browser's live session (noting the use, with address and device)."""
    services = services_of(request)
    return await services.sessions.current(session_of(request), caller_of(request))


async def _apps(services: Services, user: UserRecord, t: Translate) -> list[dict[str, Any]]:
    apps = []
    for consent in await services.consents.list(user.sub):
        try:
            client = await services.clients.get(consent.client_id)
            name = client.metadata.client_name or consent.client_id
        except NotFound:
            name = consent.client_id
        scopes = describe(consent.scope.split(), services.settings.oauth, t)
        apps.append({"client_id": consent.client_id, "name": name, "scopes": scopes})
    return apps


async def _sessions(services: Services, signed_in: SignedIn) -> list[dict[str, Any]]:
    return [
        {
            "public_id": s.public_id,
            "user_agent": s.user_agent,
            "ip": s.ip,
            "last_used": when(s.last_used_at),
            "started": when(s.created_at),
            "current": s.current,
        }
        for s in await services.sessions.of_user(signed_in.user, signed_in.session_id)
    ]


async def account_page(
    request: Request,
    signed_in: SignedIn,
    *,
    status_key: str | None = None,
    errors: Errors | None = None,
    submitted: dict[str, Any] | None = None,
    http_status: int = 200,
) -> Response:
    """The whole page; `errors` and `submitted` (the profile form's values) after a
    refused change, `status_key` after one that worked."""
    services = services_of(request)
    t = translator(request)
    user = signed_in.user
    issuer = services.settings.issuer
    token, is_new = csrf_token(request, issuer)
    mfa = await account_mfa.section(request, signed_in)
    passkeys = await account_passkeys.section(request, signed_in)
    response = render(
        request,
        "account.html",
        status=http_status,
        script=bool(mfa.get("script") or passkeys.get("script")),
        username=user.username,
        email=user.email,
        pending_email=user.pending_email,
        csrf_token=token,
        status_message=t(STATUS_MESSAGES[status_key]) if status_key else None,
        recent=is_recent(services, signed_in),
        section_errors=errors or {},
        profile_fields=profile_fields(services, user, t, submitted),
        sessions=await _sessions(services, signed_in),
        apps=await _apps(services, user, t),
        mfa=mfa,
        passkeys=passkeys,
        federation=await federation_section.account_section(request, signed_in),
        form_targets=federation_section.form_targets(request),
    )
    return remember_csrf(response, token, is_new, issuer)


def done(request: Request, status_key: str) -> Response:
    """Redirect-after-POST back to the page, which announces `status_key`."""
    assert status_key in STATUS_MESSAGES
    return see_other(f"{account_path(services_of(request))}?status={status_key}")


async def show(request: Request) -> Response:
    signed_in = await signed_in_here(request)
    if signed_in is None:
        return login_redirect(request, account_path(services_of(request)))
    status = request.query_params.get("status")
    return await account_page(
        request, signed_in, status_key=status if status in STATUS_MESSAGES else None
    )


async def deleted(request: Request) -> Response:
    """Where deleting the account ends: the session is gone with the account."""
    return message_page(request, "account.deleted_title", "account.deleted_message")


def routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(f"{prefix}{ACCOUNT_PAGE}", show, methods=["GET"], include_in_schema=False),
        Route(f"{prefix}{DELETED_PAGE}", deleted, methods=["GET"], include_in_schema=False),
    ]
