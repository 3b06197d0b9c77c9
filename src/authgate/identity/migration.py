"""Lazy migration: users a legacy store knows, made in the pool the first time they sign in
or ask for a reset (the user_migration lifecycle hook).

Only names the pool does not have are asked about. The account is made in one
transaction with an argon2id hash of the password just proven to the legacy store (the
legacy hashes never come over); after a forgot-password it has no password and a reset
due. An answer that cannot make a valid account is logged and treated as "not found".
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from authgate.audit import Caller, record
from authgate.errors import AlreadyExists, DomainError
from authgate.identity.attributes import AttributeSchema
from authgate.identity.lifecycle import NO_HOOKS, LifecycleHooks, Migrated, context_of
from authgate.identity.names import check_new_username, normalize_email
from authgate.identity.passwords import PasswordHasher
from authgate.identity.srp_verifiers import SrpVerifiers, derive_verifier, save_verifier
from authgate.store import Store
from authgate.store.records import UserRecord

log = logging.getLogger("authgate.hooks")

OWN_ATTRIBUTES = frozenset({"email", "email_verified", "sub", "username"})
"""Attributes a user_migration answer names that the account sets itself."""


class UserMigration:
    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        attributes: AttributeSchema,
        clock: Callable[[], float] = time.time,
        *,
        srp: SrpVerifiers | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._attributes = attributes
        self._clock = clock
        self._srp = srp
        self.hooks: LifecycleHooks = NO_HOOKS

    async def for_reset(self, name: str, caller: Caller) -> None:
        """A forgot-password for a user the pool does not have: if the legacy store has
        them, they are created (a reset due, no password yet) so the code can be sent."""
        async with self._store.read() as tx:
            if await tx.users.get_by_username(name) is not None:
                return
        migrated = await self.hooks.user_migration(
            name, None, "forgot_password", context_of(caller)
        )
        if migrated is not None:
            await self._create(name, migrated, None, caller)

    async def for_login(
        self, name: str, password: str, caller: Caller, client_id: str | None
    ) -> UserRecord | None:
        """A sign-in names a user the pool does not have: the legacy store's account, made
        here with an argon2id hash of the password just given, or None."""
        migrated = await self.hooks.user_migration(
            name, password, "authentication", context_of(caller, client_id)
        )
        if migrated is None:
            return None
        return await self._create(name, migrated, password, caller)

    async def _create(
        self, name: str, migrated: Migrated, password: str | None, caller: Caller
    ) -> UserRecord | None:
        """One transaction: the user (in the state the hook said; without a password, a
        reset due), audited. None when the answer cannot make a valid account (logged) or
        the name was taken meanwhile."""
        try:
            given = migrated.email or migrated.attributes.get("email")
            address = normalize_email(given if given else name)
            skeleton = check_new_username(name, address)
            attrs = self._attributes.validate(
                {k: v for k, v in migrated.attributes.items() if k not in OWN_ATTRIBUTES},
                creating=True,
            )
        except DomainError as exc:
            log.warning("user_migration answer unusable for a new account: %s", exc.code)
            return None
        password_hash = await self._hasher.hash(password) if password is not None else None
        verifier = derive_verifier(self._srp, name, password) if password is not None else None
        now = self._clock()
        user = UserRecord(
            sub=str(uuid.uuid4()),
            username=name,
            email=address,
            password_hash=password_hash,
            status=migrated.status if password is not None else "reset_required",
            email_verified=migrated.email_verified,
            attributes=attrs,
            created_at=now,
            updated_at=now,
            username_skeleton=skeleton,
        )
        try:
            async with self._store.transaction() as tx:
                taken = await tx.users.get_by_username(name) or await tx.users.get_by_skeleton(
                    skeleton
                )
                if taken is not None:
                    return None
                await tx.users.add(user)
                await save_verifier(self._srp, tx, user, verifier)
                await record(tx, "user_migrated", caller, sub=user.sub)
        except AlreadyExists:
            return None
        return user
