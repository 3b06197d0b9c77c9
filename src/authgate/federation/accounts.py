"""Who an external identity is here: sign in a linked user, link, create, or refuse.

The rules (issue 15), in order, for a sign-in:
1. a known (provider, subject) signs in its user (refused when that user is disabled), whose
   mutable mapped attributes then take the provider's current values (not the email);
2. otherwise, when a user here has the provider's email address: link to that user only if
   the provider's `link_by_verified_email` is on AND the provider says `email_verified:
   true` AND our user's email is verified; else refuse (`email_taken`): no second account
   with the same email, and no takeover through an address nobody proved. The person may
   sign in the usual way and link the provider from the account page;
3. otherwise create the user when `allow_signup`: the email as the provider gives it,
   verified only when the provider says so; no password (so none can be guessed); the
   attributes the `claims` map names; groups only when `groups` is mapped, and then only
   groups that already exist here (a provider cannot create groups).
Linking from the account page (mode "link") attaches the identity to the signed-in user,
unless it belongs to someone else. Unlinking refuses to remove a user's last way to sign
in. Every outcome is audited (provider, never a token).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authgate.audit import Caller, record
from authgate.errors import AlreadyExists, InvalidAttribute, InvalidRequest, SignupRefused
from authgate.federation.errors import FederationRefused
from authgate.federation.settings import IdentityProvider
from authgate.identity.attributes import AttributeSchema
from authgate.identity.lifecycle import NO_HOOKS, HookContext, LifecycleHooks, NewUser
from authgate.identity.names import check_new_username, normalize_email, normalize_username
from authgate.store import Store, Transaction
from authgate.store.records import FederatedIdentityRecord, UserRecord

FEDERATED = "fed"
"""The amr of a sign-in at an external provider (as Microsoft's tokens name it)."""


@dataclass(frozen=True)
class ExternalIdentity:
    provider: IdentityProvider
    subject: str
    claims: dict[str, Any]

    @property
    def email(self) -> str | None:
        source = next((t for t, o in self.provider.claims.items() if o == "email"), None)
        value = self.claims.get(source) if source else None
        try:
            return normalize_email(value) if value is not None else None
        except InvalidRequest:
            return None

    @property
    def email_verified(self) -> bool:
        return self.claims.get("email_verified") is True


def _username(identity: ExternalIdentity) -> str:
    """A new account's username: the email, else one made from the provider's subject."""
    digest = hashlib.sha256(identity.subject.encode()).hexdigest()[:20]
    return identity.email or f"{identity.provider.name}-{digest}"


@dataclass(frozen=True)
class LinkView:
    provider: str
    display_name: str
    subject: str
    linked_at: float


class FederatedAccounts:
    def __init__(
        self,
        store: Store,
        attributes: AttributeSchema,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._attributes = attributes
        self._clock = clock
        self.hooks: LifecycleHooks = NO_HOOKS
        """The pool's lifecycle hooks (pre_signup; set by bootstrap)."""

    async def sign_in(self, identity: ExternalIdentity, caller: Caller) -> UserRecord:
        """The user this identity signs in as (linked, linked now, or created now); a
        refusal is audited (after its transaction rolled back) and raised."""
        try:
            return await self._sign_in(identity, caller)
        except SignupRefused as refused:
            exc = FederationRefused("signup_refused", refused.message)
            await self.refused(identity.provider.name, exc, caller)
            raise exc from None
        except FederationRefused as exc:
            await self.refused(identity.provider.name, exc, caller)
            raise

    async def _sign_in(self, identity: ExternalIdentity, caller: Caller) -> UserRecord:
        async with self._store.transaction() as tx:
            user = await self._known(tx, identity, caller)
            if user is not None:
                return user
        # A new account: the pre_signup hook is asked first, outside any transaction, as
        # for every other way an account is made (a hook refusing a domain must hold here).
        decision = await self.hooks.pre_signup(
            NewUser(_username(identity), identity.email or "", self._mapped(identity)),
            "external_provider",
            HookContext(caller),
        )
        async with self._store.transaction() as tx:
            user = await self._known(tx, identity, caller)  # made or linked meanwhile
            if user is not None:
                return user
            return await self._create(tx, identity, caller, decision.auto_verify_email)

    async def _known(
        self, tx: Transaction, identity: ExternalIdentity, caller: Caller
    ) -> UserRecord | None:
        """The user the identity is linked to, or linked now by email; None when an
        account would have to be made (refused when that is closed)."""
        link = await tx.federation.link_of(identity.provider.name, identity.subject)
        if link is not None:
            user = await tx.users.get(link.sub)
            if user is None or not user.enabled:
                raise FederationRefused("user_disabled", sub=link.sub)
            return await self._refreshed(tx, identity, user, caller)
        email = identity.email
        holders = await tx.federation.subs_with_email(email) if email else []
        if holders:
            return await self._link_by_email(tx, identity, holders, caller)
        if not identity.provider.allow_signup:
            raise FederationRefused("signup_closed")
        return None

    async def _link_by_email(
        self, tx: Transaction, identity: ExternalIdentity, holders: list[str], caller: Caller
    ) -> UserRecord:
        user = await tx.users.get(holders[0]) if len(holders) == 1 else None
        allowed = (
            user is not None
            and identity.provider.link_by_verified_email
            and identity.email_verified
            and user.email_verified
        )
        if not allowed or user is None:
            raise FederationRefused("email_taken", sub=holders[0])
        if not user.enabled:
            raise FederationRefused("user_disabled", sub=user.sub)
        await self._add_link(tx, identity, user.sub)
        await record(
            tx,
            "federation_linked",
            caller,
            sub=user.sub,
            provider=identity.provider.name,
            by="email",
        )
        return user

    async def _create(
        self, tx: Transaction, identity: ExternalIdentity, caller: Caller, verify_email: bool
    ) -> UserRecord:
        email = identity.email
        provider = identity.provider
        try:
            name = normalize_username(_username(identity))
            skeleton = check_new_username(name, email)
            attributes = self._attributes.validate(self._mapped(identity), creating=True)
        except (InvalidRequest, InvalidAttribute) as exc:
            raise FederationRefused("signup_closed", type(exc).__name__) from None
        now = self._clock()
        user = UserRecord(
            sub=str(uuid.uuid4()),
            username=name,
            email=email,
            password_hash=None,
            status="confirmed",
            email_verified=email is not None and (identity.email_verified or verify_email),
            attributes=attributes,
            created_at=now,
            updated_at=now,
            username_skeleton=skeleton,
        )
        try:
            await tx.users.add(user)
        except AlreadyExists:
            raise FederationRefused("email_taken") from None
        await self._add_link(tx, identity, user.sub)
        for group in self._groups(identity):
            if await tx.groups.get(group) is not None:
                await tx.groups.add_member(group, user.sub)
                user.groups.append(group)
        await record(tx, "federation_signup", caller, sub=user.sub, provider=provider.name)
        return user

    async def _refreshed(
        self, tx: Transaction, identity: ExternalIdentity, user: UserRecord, caller: Caller
    ) -> UserRecord:
        """The user with the mapped attributes the provider now gives, as Cognito applies
        its attribute mapping at every federated sign-in. The email, the username, groups
        and attributes declared immutable stay as they are: the email is how the account
        is recovered and linked, and a provider must not move it."""
        changed = {}
        for name, value in self._mapped(identity).items():
            if user.attributes.get(name) == value:
                continue
            try:
                self._attributes.validate({name: value}, current=user.attributes, creating=False)
            except InvalidAttribute:
                continue
            changed[name] = value
        if not changed:
            return user
        user.attributes = {**user.attributes, **changed}
        user.updated_at = self._clock()
        await tx.users.update(user)
        await record(
            tx,
            "federation_attributes_updated",
            caller,
            sub=user.sub,
            provider=identity.provider.name,
            attributes=sorted(changed),
        )
        return user

    def _mapped(self, identity: ExternalIdentity) -> dict[str, Any]:
        """Our attributes from their claims, per the `claims` map (email, groups aside);
        a value of the wrong type is left out rather than refusing the person."""
        values: dict[str, Any] = {}
        for theirs, ours in identity.provider.claims.items():
            value = identity.claims.get(theirs)
            if ours in ("email", "groups") or value is None:
                continue
            try:
                self._attributes.validate({ours: value}, creating=True)
            except InvalidAttribute:
                continue
            values[ours] = value
        return values

    @staticmethod
    def _groups(identity: ExternalIdentity) -> list[str]:
        source = next((t for t, o in identity.provider.claims.items() if o == "groups"), None)
        value = identity.claims.get(source) if source else None
        if not isinstance(value, list):
            return []
        return list(
            dict.fromkeys(g for g in value[:100] if isinstance(g, str) and 0 < len(g) <= 128)
        )

    async def _add_link(self, tx: Transaction, identity: ExternalIdentity, sub: str) -> None:
        await tx.federation.add_link(
            FederatedIdentityRecord(
                provider=identity.provider.name,
                subject=identity.subject,
                sub=sub,
                email=identity.email,
                linked_at=self._clock(),
            )
        )

    async def link(self, sub: str, identity: ExternalIdentity, caller: Caller) -> None:
        """Attach the identity to the signed-in user `sub` (the account page's link)."""
        try:
            await self._link(sub, identity, caller)
        except FederationRefused as exc:
            await self.refused(identity.provider.name, exc, caller)
            raise

    async def _link(self, sub: str, identity: ExternalIdentity, caller: Caller) -> None:
        name = identity.provider.name
        async with self._store.transaction() as tx:
            link = await tx.federation.link_of(name, identity.subject)
            if link is not None and link.sub == sub:
                return
            if link is not None:
                raise FederationRefused("identity_taken", sub=sub)
            try:
                await self._add_link(tx, identity, sub)
            except AlreadyExists:
                raise FederationRefused("identity_taken", sub=sub) from None
            await record(tx, "federation_linked", caller, sub=sub, provider=name, by="account")

    async def unlink(self, user: UserRecord, provider: str, caller: Caller) -> None:
        """Remove the user's link to `provider`, unless it is their last way to sign in."""
        try:
            await self._unlink(user, provider, caller)
        except FederationRefused as exc:
            await self.refused(provider, exc, caller)
            raise

    async def _unlink(self, user: UserRecord, provider: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            links = await tx.federation.links_of(user.sub)
            if not any(link.provider == provider for link in links):
                raise FederationRefused("not_linked")
            fresh = await tx.users.get(user.sub)
            others = len(links) - 1 + await tx.federation.passkey_count(user.sub)
            if (fresh is None or fresh.password_hash is None) and others == 0:
                raise FederationRefused("last_sign_in_method", sub=user.sub)
            await tx.federation.remove_link(user.sub, provider)
            await record(tx, "federation_unlinked", caller, sub=user.sub, provider=provider)

    async def links(self, sub: str, providers: dict[str, IdentityProvider]) -> list[LinkView]:
        async with self._store.read() as tx:
            found = await tx.federation.links_of(sub)
        return [
            LinkView(
                link.provider,
                providers[link.provider].label if link.provider in providers else link.provider,
                link.subject,
                link.linked_at,
            )
            for link in found
        ]

    async def refused(self, provider: str, refusal: FederationRefused, caller: Caller) -> None:
        """Audit a refusal (its reason and short detail, never anything the provider sent
        but an error code) in a transaction of its own."""
        async with self._store.transaction() as tx:
            await record(
                tx,
                "federation_refused",
                caller,
                sub=refusal.sub,
                provider=provider,
                reason=refusal.reason,
                detail=refusal.detail[:120],
            )
