"""authgate's own event bodies and answers (`hooks.format: authgate`, the default).

Every request names the hook (`type`) and the flow (`source`), the user (never a
password hash), the client, the caller's address and the pass-through maps; the answers
are the small objects of docs/hooks.md.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from authgate.hooks.answers import (
    CODE_PARAMETER,
    MAX_MESSAGE,
    BadAnswer,
    Refusal,
    SignupOutcome,
    flag,
    mapping,
    names,
    one_line,
    worded,
)
from authgate.identity.lifecycle import HookContext, Migrated, NewUser, SignupDecision
from authgate.identity.mail import Message
from authgate.store.records import UserRecord
from authgate.tokens.claims_change import ClaimsChange


def _base(hook: str, source: str, context: HookContext | None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": hook, "source": source, "timestamp": int(time.time())}
    if context is not None:
        body["client_id"] = context.client_id
        body["caller"] = {"ip": context.caller.ip, "user_agent": context.caller.user_agent}
        body["validation_data"] = dict(context.validation_data)
        body["client_metadata"] = dict(context.client_metadata)
    return body


def user_view(user: UserRecord) -> dict[str, Any]:
    """The user as a hook sees it: no password hash, no internal state."""
    return {
        "sub": user.sub,
        "username": user.username,
        "email": user.email,
        "email_verified": user.email_verified,
        "status": user.status,
        "enabled": user.enabled,
        "attributes": dict(user.attributes),
        "groups": list(user.groups),
    }


class AuthgateFormat:
    name = "authgate"

    def pre_signup(self, user: NewUser, source: str, context: HookContext) -> dict[str, Any]:
        body = _base("pre_signup", source, context)
        body["user"] = {
            "username": user.username,
            "email": user.email,
            "attributes": dict(user.attributes),
        }
        return body

    def read_pre_signup(self, answer: Mapping[str, Any]) -> SignupOutcome:
        allow = answer.get("allow")
        if not isinstance(allow, bool):
            raise BadAnswer("allow must be true or false")
        if not allow:
            message = answer.get("message")
            text = one_line(message, MAX_MESSAGE, "message") if message is not None else ""
            return Refusal(text or "The sign-up was refused.")
        return SignupDecision(flag(answer, "auto_confirm"), flag(answer, "auto_verify_email"))

    def notice(
        self, hook: str, user: UserRecord, source: str, context: HookContext
    ) -> dict[str, Any]:
        body = _base(hook, source, context)
        body["user"] = user_view(user)
        return body

    def pre_token(
        self, user: UserRecord, client_id: str, claims: Mapping[str, Any], trigger: str
    ) -> dict[str, Any]:
        body = _base("pre_token", trigger, None)
        body["client_id"] = client_id
        body["user"] = user_view(user)
        body["claims"] = dict(claims)
        return body

    def read_pre_token(self, answer: Mapping[str, Any], claims: Mapping[str, Any]) -> ClaimsChange:
        return ClaimsChange(
            add=mapping(answer, "claims_add"),
            suppress=names(answer, "claims_suppress"),
            groups_add=names(answer, "groups_add"),
            groups_remove=names(answer, "groups_remove"),
        )

    def user_migration(
        self, username: str, password: str | None, source: str, context: HookContext
    ) -> dict[str, Any]:
        body = _base("user_migration", source, context)
        body["username"] = username
        if password is not None:
            body["password"] = password
        return body

    def read_user_migration(self, answer: Mapping[str, Any], source: str) -> Migrated | None:
        found = flag(answer, "found")
        password_ok = flag(answer, "password_ok")
        attributes = mapping(answer, "attributes")
        confirmed = flag(answer, "confirmed", True)
        if not found or (source == "authentication" and not password_ok):
            return None
        email = attributes.get("email")
        if email is not None and not isinstance(email, str):
            raise BadAnswer("attributes.email must be a string")
        verified = attributes.get("email_verified", False)
        return Migrated(
            attributes,
            email=email,
            status="confirmed" if confirmed else "unconfirmed",
            email_verified=verified is True or verified == "true",
        )

    def custom_message(
        self, event: str, message: Message, user: Mapping[str, Any]
    ) -> dict[str, Any]:
        body = _base("custom_message", event, None)
        body["user"] = dict(user)
        body["code_parameter"] = CODE_PARAMETER
        body["message"] = {"subject": message.subject, "body": message.text}
        return body

    def read_custom_message(
        self, answer: Mapping[str, Any], code: str | None, default: Message
    ) -> tuple[str, str] | None:
        """The new subject and body; None keeps the default (an answer without a body)."""
        if answer.get("body") is None:
            return None
        return worded(answer.get("subject"), answer.get("body"), code, default.subject)
