"""The lifecycle hooks a running server calls: `LifecycleHooks` for the user pool and
`TokenHook` for the token service, each answered by a signed webhook in the configured
format, each failure handled by the hook's `on_error`.

What a failure (timeout, unreachable, non-2xx, too large, malformed answer) means:
pre_signup deny refuses the sign-up, allow lets it through unchanged; pre_token deny
issues no tokens (HookFailed), allow issues them unchanged; user_migration either way
answers "unknown user" (anything else would tell which names the pool lacks);
custom_message deny sends no mail, allow sends the default one; post_* are notices,
retried in the background and never fail a flow.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from authgate.audit import SYSTEM
from authgate.clients.registry import Client
from authgate.errors import HookFailed, SignupRefused
from authgate.hooks.answers import (
    CODE_PARAMETER,
    MAX_MESSAGE,
    USERNAME_PARAMETER,
    BadAnswer,
    Refusal,
    SignupOutcome,
    one_line,
)
from authgate.hooks.authgate_format import AuthgateFormat
from authgate.hooks.cognito_format import CognitoFormat
from authgate.hooks.settings import HOOK_NAMES, HooksSettings
from authgate.hooks.transport import (
    BAD_ANSWER,
    HookCallFailed,
    HookTransport,
    LambdaRaised,
    Target,
    target,
)
from authgate.identity.lifecycle import (
    ConfirmSource,
    HookContext,
    Migrated,
    MigrationSource,
    NewUser,
    SignupDecision,
    SignupSource,
)
from authgate.identity.mail import Message
from authgate.store.records import UserRecord
from authgate.tokens.claims_change import NO_CHANGE, ClaimsChange

log = logging.getLogger("authgate.hooks")


class EventFormat(Protocol):
    """Builds the request bodies and reads the answers of one format."""

    name: str

    def pre_signup(self, user: NewUser, source: str, context: HookContext) -> dict[str, Any]: ...
    def read_pre_signup(self, answer: Mapping[str, Any]) -> SignupOutcome: ...
    def notice(
        self, hook: str, user: UserRecord, source: str, context: HookContext
    ) -> dict[str, Any]: ...
    def pre_token(
        self, user: UserRecord, client_id: str, claims: Mapping[str, Any], trigger: str
    ) -> dict[str, Any]: ...
    def read_pre_token(
        self, answer: Mapping[str, Any], claims: Mapping[str, Any]
    ) -> ClaimsChange: ...
    def user_migration(
        self, username: str, password: str | None, source: str, context: HookContext
    ) -> dict[str, Any]: ...
    def read_user_migration(self, answer: Mapping[str, Any], source: str) -> Migrated | None: ...
    def custom_message(
        self, event: str, message: Message, user: Mapping[str, Any]
    ) -> dict[str, Any]: ...
    def read_custom_message(
        self, answer: Mapping[str, Any], code: str | None, default: Message
    ) -> tuple[str, str] | None: ...


class WebhookHooks:
    """Both hook protocols, over `HookTransport`."""

    def __init__(
        self, settings: HooksSettings, transport: HookTransport, events: EventFormat
    ) -> None:
        self._transport = transport
        self._events = events
        self._targets: dict[str, Target] = {}
        for name in HOOK_NAMES:
            endpoint = settings.endpoint(name)
            if endpoint is not None:
                self._targets[name] = target(name, endpoint)

    @property
    def migrates(self) -> bool:
        return "user_migration" in self._targets

    async def _ask(
        self, name: str, payload: dict[str, Any], context: HookContext | None, sub: str | None
    ) -> dict[str, Any]:
        caller = context.caller if context is not None else SYSTEM
        return await self._transport.call(self._targets[name], payload, caller, sub)

    def _denies(self, name: str) -> bool:
        return self._targets[name].endpoint.on_error == "deny"

    def _failed(self, name: str, reason: str) -> None:
        effect = "denied" if self._denies(name) else "allowed"
        log.warning("hook %s failed (%s); the flow is %s (on_error)", name, reason, effect)

    # -- questions ---------------------------------------------------------------------

    async def pre_signup(
        self, user: NewUser, source: SignupSource, context: HookContext
    ) -> SignupDecision:
        if "pre_signup" not in self._targets:
            return SignupDecision()
        payload = self._events.pre_signup(user, source, context)
        try:
            answer = await self._ask("pre_signup", payload, context, None)
            outcome = self._events.read_pre_signup(answer)
        except LambdaRaised as raised:
            outcome = Refusal(_shown(raised.message))
        except (HookCallFailed, BadAnswer) as exc:
            self._failed("pre_signup", _reason(exc))
            if self._denies("pre_signup"):
                raise SignupRefused("The sign-up cannot be checked now; try again later.") from None
            return SignupDecision()
        if isinstance(outcome, Refusal):
            raise SignupRefused(outcome.message)
        return outcome

    async def pre_token(
        self, user: UserRecord, client: Client, claims: Mapping[str, Any], trigger: str
    ) -> ClaimsChange:
        if "pre_token" not in self._targets:
            return NO_CHANGE
        payload = self._events.pre_token(user, client.client_id, claims, trigger)
        try:
            answer = await self._ask("pre_token", payload, None, user.sub)
            return self._events.read_pre_token(answer, claims)
        except (HookCallFailed, BadAnswer) as exc:
            self._failed("pre_token", _reason(exc))
            if self._denies("pre_token"):
                raise HookFailed() from None
            return NO_CHANGE

    async def user_migration(
        self, username: str, password: str | None, source: MigrationSource, context: HookContext
    ) -> Migrated | None:
        if "user_migration" not in self._targets:
            return None
        payload = self._events.user_migration(username, password, source, context)
        try:
            answer = await self._ask("user_migration", payload, context, None)
            return self._events.read_user_migration(answer, source)
        except LambdaRaised:
            return None  # the Cognito way of saying "not found" or "wrong password"
        except (HookCallFailed, BadAnswer) as exc:
            self._failed("user_migration", _reason(exc))
            return None

    async def custom_message(
        self, event: str, message: Message, code: str | None, user: Mapping[str, Any]
    ) -> Message | None:
        if "custom_message" not in self._targets:
            return message
        shown = message
        if code:
            shown = Message(
                message.to,
                message.subject.replace(code, CODE_PARAMETER),
                message.text.replace(code, CODE_PARAMETER),
            )
        payload = self._events.custom_message(event, shown, user)
        try:
            answer = await self._ask("custom_message", payload, None, None)
            worded = self._events.read_custom_message(answer, code or None, message)
        except (HookCallFailed, BadAnswer) as exc:
            self._failed("custom_message", _reason(exc))
            return None if self._denies("custom_message") else message
        if worded is None:
            return message
        subject, body = worded
        body = body.replace(USERNAME_PARAMETER, str(user.get("username", "")))
        return Message(message.to, subject, body)

    # -- notices -----------------------------------------------------------------------

    def post_confirmation(
        self, user: UserRecord, source: ConfirmSource, context: HookContext
    ) -> None:
        self._notify("post_confirmation", user, source, context)

    def post_authentication(self, user: UserRecord, context: HookContext) -> None:
        self._notify("post_authentication", user, "authentication", context)

    def _notify(self, name: str, user: UserRecord, source: str, context: HookContext) -> None:
        found = self._targets.get(name)
        if found is not None:
            payload = self._events.notice(name, user, source, context)
            self._transport.notify(found, payload, context.caller, user.sub)


def _reason(exc: Exception) -> str:
    return exc.outcome if isinstance(exc, HookCallFailed) else BAD_ANSWER


def _shown(message: str) -> str:
    return one_line(message, MAX_MESSAGE, "message") or "The sign-up was refused."


def build_hooks(
    settings: HooksSettings, transport: HookTransport, region: str, user_pool_id: str
) -> WebhookHooks:
    """The configured hooks in the configured format."""
    events: EventFormat = (
        CognitoFormat(region, user_pool_id) if settings.format == "cognito" else AuthgateFormat()
    )
    return WebhookHooks(settings, transport, events)
