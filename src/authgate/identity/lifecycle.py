"""The user pool's lifecycle hooks as the domain sees them: a few questions and notices at
fixed points (before a sign-up is written, after a confirmation or a sign-in, for an
unknown user who may live in a legacy store, before a mail leaves).

The domain calls this protocol and knows nothing of how it is answered: `authgate.hooks`
answers it with signed webhooks; `NoHooks` (nothing configured) lets every flow go on as
if there were no hooks. Notices (`post_*`) return at once and never fail a flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from authgate.audit import Caller
from authgate.identity.mail import Message
from authgate.store.records import UserRecord

SignupSource = Literal["signup", "admin_create_user", "external_provider"]
ConfirmSource = Literal["confirm_signup", "confirm_forgot_password"]
MigrationSource = Literal["authentication", "forgot_password"]


@dataclass(frozen=True)
class HookContext:
    """Who asked, through which client, with what pass-through data (Cognito's
    ValidationData and ClientMetadata, authgate's client_metadata)."""

    caller: Caller
    client_id: str | None = None
    validation_data: Mapping[str, str] = field(default_factory=dict)
    client_metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewUser:
    """A sign-up as a pre_signup hook sees it: no password, no hash."""

    username: str
    email: str
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class SignupDecision:
    """The pre_signup hook let the sign-up through; it may confirm the account and mark
    its email verified at once."""

    auto_confirm: bool = False
    auto_verify_email: bool = False


@dataclass(frozen=True)
class Migrated:
    """A legacy store knows the user (and, for a sign-in, the password was right):
    authgate creates it with these attributes."""

    attributes: Mapping[str, Any]
    email: str | None = None
    status: Literal["confirmed", "unconfirmed", "reset_required"] = "confirmed"
    email_verified: bool = False


class LifecycleHooks(Protocol):
    async def pre_signup(
        self, user: NewUser, source: SignupSource, context: HookContext
    ) -> SignupDecision:
        """Before a sign-up is written; raises `SignupRefused` to refuse it."""
        ...

    def post_confirmation(
        self, user: UserRecord, source: ConfirmSource, context: HookContext
    ) -> None:
        """After a confirmation committed (fire and forget)."""
        ...

    def post_authentication(self, user: UserRecord, context: HookContext) -> None:
        """After a sign-in completed (fire and forget)."""
        ...

    async def user_migration(
        self, username: str, password: str | None, source: MigrationSource, context: HookContext
    ) -> Migrated | None:
        """An unknown user: the legacy store's account (its password right, when one is
        given), or None (not found, wrong password, or the hook failed)."""
        ...

    async def custom_message(
        self, event: str, message: Message, code: str | None, user: Mapping[str, Any]
    ) -> Message | None:
        """The mail to send instead of `message` (same recipient), `message` itself, or
        None when no mail may leave (the hook failed and says deny)."""
        ...

    @property
    def migrates(self) -> bool:
        """Whether unknown users are asked about (a user_migration hook is configured)."""
        ...


class NoHooks:
    """No hooks configured: every flow as it is."""

    async def pre_signup(
        self, user: NewUser, source: SignupSource, context: HookContext
    ) -> SignupDecision:
        return SignupDecision()

    def post_confirmation(
        self, user: UserRecord, source: ConfirmSource, context: HookContext
    ) -> None:
        return None

    def post_authentication(self, user: UserRecord, context: HookContext) -> None:
        return None

    async def user_migration(
        self, username: str, password: str | None, source: MigrationSource, context: HookContext
    ) -> Migrated | None:
        return None

    async def custom_message(
        self, event: str, message: Message, code: str | None, user: Mapping[str, Any]
    ) -> Message | None:
        return message

    @property
    def migrates(self) -> bool:
        return False


NO_HOOKS: LifecycleHooks = NoHooks()


def context_of(caller: Caller, client_id: str | None = None) -> HookContext:
    """The hook context of a request: its caller, its client (given, or the adapter's)."""
    return HookContext(
        caller,
        client_id or caller.client_id,
        dict(caller.validation_data),
        dict(caller.client_metadata),
    )
