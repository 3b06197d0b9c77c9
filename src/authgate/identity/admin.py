"""What an administrator may do to accounts and groups."""

from __future__ import annotations

import secrets
import string
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from authgate.audit import Caller, record
from authgate.errors import InvalidRequest, NotFound, TooManyRequests
from authgate.identity.codes import PURPOSES, CodeBook, CodeRefused
from authgate.identity.importer import ImportRow
from authgate.identity.lifecycle import NewUser, context_of
from authgate.identity.names import check_new_username, normalize_email, normalize_username
from authgate.identity.srp_verifiers import derive_verifier, save_verifier
from authgate.identity.users import UserPool
from authgate.store import Store, Transaction
from authgate.store.records import AuditRecord, GroupRecord, Page, UserRecord
from authgate.tokens.service import TokenService

STATUSES = ("unconfirmed", "confirmed", "force_change_password", "reset_required")


def temporary_password(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(length - 4))
    return core + secrets.choice(string.ascii_uppercase) + secrets.choice(string.digits) + "!a"


class UserAdmin:
    def __init__(
        self,
        store: Store,
        pool: UserPool,
        codes: CodeBook,
        tokens: TokenService,
        reset_code_ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._pool = pool
        self._codes = codes
        self._tokens = tokens
        self._reset_code_ttl = reset_code_ttl
        self._clock = clock

    async def _user(self, tx: Transaction, sub: str) -> UserRecord:
        user = await tx.users.get(sub)
        if user is None:
            raise NotFound("No such user.")
        return user

    async def create_user(
        self,
        email: object,
        password: object,
        username: object,
        attributes: dict[str, Any] | None,
        send_invite: bool,
        email_verified: bool,
        caller: Caller,
        *,
        temporary: object = None,
        require_email: bool = True,
    ) -> UserRecord:
        """A confirmed account with the given password, or an invited one with a temporary
        (the one given, else a generated one). Cognito's AdminCreateUser may leave out the
        email (`require_email=False`); such a user cannot be sent an invitation."""
        if email is None and not require_email and username is not None:
            address = None
        else:
            address = normalize_email(email)
        if send_invite and address is None:
            raise InvalidRequest("An invitation needs an email address.", field="email")
        name = normalize_username(username if username is not None else address)
        skeleton = check_new_username(name, address)
        attrs = self._pool.attributes.validate(attributes or {}, creating=True)
        # Before anything is written (Cognito's PreSignUp_AdminCreateUser); the
        # administrator's own choices (confirmed, invited) stand, only a refusal counts.
        await self._pool.hooks.pre_signup(
            NewUser(name, address or "", attrs), "admin_create_user", context_of(caller)
        )
        if password is not None and temporary is not None:
            raise InvalidRequest("Give a password or a temporary password, not both.")
        if temporary is not None:
            if not isinstance(temporary, str):
                raise InvalidRequest("temporary password must be a string.", field="password")
            self._pool.policy.check(temporary)
        if password is None:
            temporary = temporary if isinstance(temporary, str) else temporary_password()
            status, chosen = "force_change_password", temporary
        else:
            if not isinstance(password, str):
                raise InvalidRequest("password must be a string.", field="password")
            self._pool.policy.check(password)
            status, chosen = "confirmed", password
        now = self._clock()
        user = UserRecord(
            sub=str(uuid.uuid4()),
            username=name,
            email=address,
            password_hash=await self._pool.hasher.hash(chosen),
            status=status,
            email_verified=email_verified,
            attributes=attrs,
            created_at=now,
            updated_at=now,
            username_skeleton=skeleton,
        )
        verifier = derive_verifier(self._pool.srp, name, chosen)
        async with self._store.transaction() as tx:
            await tx.users.add(user)
            await save_verifier(self._pool.srp, tx, user, verifier)
            await record(tx, "admin_user_created", caller, sub=user.sub, invited=send_invite)
        if send_invite and address is not None:
            self._pool.postman.send("invitation", address, name, temporary_password=temporary or "")
        return user

    async def reinvite(self, sub: str, temporary: object, caller: Caller) -> UserRecord:
        """Mail an invited user a fresh temporary password (Cognito's MessageAction=RESEND)."""
        if temporary is not None and not isinstance(temporary, str):
            raise InvalidRequest("temporary password must be a string.", field="password")
        chosen = temporary if isinstance(temporary, str) else temporary_password()
        self._pool.policy.check(chosen)
        new_hash = await self._pool.hasher.hash(chosen)
        async with self._store.transaction() as tx:
            user = await self._user(tx, sub)
            if user.status != "force_change_password" or not user.email:
                raise InvalidRequest("Only an invited user with an email can be invited again.")
            user.password_hash = new_hash
            user.updated_at = self._clock()
            await tx.users.update(user)
            await record(tx, "admin_user_reinvited", caller, sub=sub)
        self._pool.postman.send("invitation", user.email, user.username, temporary_password=chosen)
        return user

    async def get_by_username(self, username: str) -> UserRecord:
        async with self._store.read() as tx:
            user = await tx.users.get_by_username(normalize_username(username))
        if user is None:
            raise NotFound("No such user.")
        return user

    async def import_user(self, row: ImportRow, caller: Caller) -> UserRecord:
        """One imported account, its legacy hash kept (rehashed to argon2id at login)."""
        address = normalize_email(row.email)
        name = normalize_username(row.username or address)
        skeleton = check_new_username(name, address)
        now = self._clock()
        user = UserRecord(
            sub=str(uuid.uuid4()),
            username=name,
            username_skeleton=skeleton,
            email=address,
            password_hash=row.password_hash,
            status="confirmed",
            email_verified=row.email_verified,
            attributes=self._pool.attributes.validate(row.attributes, creating=True),
            created_at=now,
            updated_at=now,
        )
        async with self._store.transaction() as tx:
            await tx.users.add(user)
            for name in row.groups:
                if await tx.groups.get(name) is None:
                    await tx.groups.add(GroupRecord(name=name, created_at=now))
                await tx.groups.add_member(name, user.sub)
            await record(tx, "admin_user_imported", caller, sub=user.sub)
        return user

    async def export_users(self) -> AsyncIterator[dict[str, Any]]:
        """Every account in import format, page by page."""
        cursor: str | None = None
        while True:
            async with self._store.read() as tx:
                found = await tx.users.list(cursor=cursor, limit=500)
            for user in found.items:
                yield {
                    "username": user.username,
                    "email": user.email,
                    "email_verified": user.email_verified,
                    "password_hash": user.password_hash,
                    "groups": user.groups,
                    **user.attributes,
                }
            if found.next is None:
                return
            cursor = found.next

    async def get_user(self, sub: str) -> UserRecord:
        async with self._store.read() as tx:
            return await self._user(tx, sub)

    async def list_users(self, cursor: str | None, limit: int, **filters: Any) -> Page[UserRecord]:
        if filters.get("status") and filters["status"] not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.", field="status")
        for key in ("username_prefix", "email_prefix"):
            if filters.get(key):
                filters[key] = filters[key].casefold()  # both are stored lower-cased
        async with self._store.read() as tx:
            return await tx.users.list(cursor=cursor, limit=limit, **filters)

    async def update_attributes(
        self, sub: str, changes: dict[str, Any], caller: Caller
    ) -> UserRecord:
        changes = dict(changes)
        email_verified = changes.pop("email_verified", None)
        new_email = changes.pop("email", None)
        async with self._store.transaction() as tx:
            user = await self._user(tx, sub)
            user.attributes = self._pool.attributes.validate(
                changes, current=user.attributes, creating=True
            )
            if new_email is not None:
                user.email = normalize_email(new_email)
                user.email_verified = False
                user.pending_email = None
            if email_verified is not None:
                if not isinstance(email_verified, bool):
                    raise InvalidRequest("email_verified must be a boolean.")
                user.email_verified = email_verified
            user.updated_at = self._clock()
            await tx.users.update(user)
            await record(tx, "admin_user_updated", caller, sub=sub)
        return user

    async def set_enabled(self, sub: str, enabled: bool, caller: Caller) -> UserRecord:
        async with self._store.transaction() as tx:
            user = await self._user(tx, sub)
            user.enabled = enabled
            user.updated_at = self._clock()
            if enabled:
                await tx.users.update(user)
            else:
                await self._tokens.sign_out_everywhere(tx, user)
            await record(
                tx, "admin_user_enabled" if enabled else "admin_user_disabled", caller, sub=sub
            )
        return user

    async def confirm(self, sub: str, caller: Caller) -> UserRecord:
        async with self._store.transaction() as tx:
            user = await self._user(tx, sub)
            if user.status == "unconfirmed":
                user.status = "confirmed"
                user.updated_at = self._clock()
                await tx.users.update(user)
                await tx.codes.delete(sub, "signup")
            await self._codes.unlock(tx, sub, ("signup",), caller)
            await record(tx, "admin_user_confirmed", caller, sub=sub)
        return user

    async def set_password(
        self, sub: str, password: object, permanent: bool, caller: Caller
    ) -> UserRecord:
        if not isinstance(password, str):
            raise InvalidRequest("password must be a string.", field="password")
        self._pool.policy.check(password)
        new_hash = await self._pool.hasher.hash(password)
        async with self._store.read() as tx:
            named = (await self._user(tx, sub)).username
        verifier = derive_verifier(self._pool.srp, named, password)
        async with self._store.transaction() as tx:
            user = await self._user(tx, sub)
            user.password_hash = new_hash
            user.status = "confirmed" if permanent else "force_change_password"
            await save_verifier(self._pool.srp, tx, user, verifier)
            await self._tokens.sign_out_everywhere(tx, user)
            await self._codes.unlock(tx, sub, ("reset",), caller)
            await self._pool.signin.unlock(tx, user.username)
            await record(tx, "admin_password_set", caller, sub=sub, permanent=permanent)
        return user

    async def reset_password(self, sub: str, caller: Caller, *, require: bool = False) -> None:
        """Mail the user a reset code, as if they had asked for one. With `require` (Cognito's
        AdminResetUserPassword) the password stops working until the code is used, and every
        sign-in ends: an administrator who distrusts the password distrusts its sessions."""
        async with self._store.transaction() as tx:
            user = await self._user(tx, sub)
            if not user.email:
                raise InvalidRequest("The user has no email address to send a code to.")
            if require and user.status == "confirmed":
                user.status = "reset_required"
                await self._tokens.sign_out_everywhere(tx, user)
            await self._codes.unlock(tx, sub, ("reset",), caller)
            try:
                code = await self._codes.issue(
                    tx, sub, "reset", self._reset_code_ttl, user.email, caller
                )
            except CodeRefused as refused:
                code = None
                reason = refused.reason
            else:
                await record(tx, "admin_password_reset", caller, sub=sub)
        if code is None:
            raise TooManyRequests(
                f"No code was sent ({reason}): the user or the address had its share of codes "
                "for now.",
                retry_after=int(self._codes.budget.mails_per_address.period),
            )
        greeting = user.username if user.email_verified else user.email
        self._pool.postman.send("reset_code", user.email, greeting, code=code)

    async def unlock(self, sub: str, caller: Caller) -> UserRecord:
        """Lift the user's login lockout and every locked code purpose."""
        async with self._store.transaction() as tx:
            user = await self._user(tx, sub)
            await self._codes.unlock(tx, sub, PURPOSES, caller)
            await self._pool.signin.unlock(tx, user.username)
            await record(tx, "admin_user_unlocked", caller, sub=sub)
        return user

    async def delete_user(self, sub: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            await self._user(tx, sub)
            await tx.users.delete(sub)
            self._tokens.user_gone_after(tx, sub)
            await record(tx, "admin_user_deleted", caller, sub=sub)

    async def sign_out(self, sub: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            await self._tokens.sign_out_everywhere(tx, await self._user(tx, sub))
            await record(tx, "admin_sign_out", caller, sub=sub)

    async def audit_log(self, cursor: str | None, limit: int, **filters: Any) -> Page[AuditRecord]:
        async with self._store.read() as tx:
            return await tx.audit.list(cursor=cursor, limit=limit, **filters)

    # -- groups ------------------------------------------------------------------------

    async def create_group(self, name: object, description: object, caller: Caller) -> GroupRecord:
        if not isinstance(name, str) or not 0 < len(name) <= 128 or not name.isprintable():
            raise InvalidRequest("name must be 1 to 128 printable characters.", field="name")
        if description is not None and not isinstance(description, str):
            raise InvalidRequest("description must be a string.", field="description")
        group = GroupRecord(name=name, description=description or "", created_at=self._clock())
        async with self._store.transaction() as tx:
            await tx.groups.add(group)
            await record(tx, "admin_group_created", caller, group=name)
        return group

    async def get_group(self, name: str) -> GroupRecord:
        async with self._store.read() as tx:
            group = await tx.groups.get(name)
        if group is None:
            raise NotFound("No such group.")
        return group

    async def update_group(self, name: str, description: object, caller: Caller) -> GroupRecord:
        if not isinstance(description, str):
            raise InvalidRequest("description must be a string.", field="description")
        async with self._store.transaction() as tx:
            group = await tx.groups.get(name)
            if group is None:
                raise NotFound("No such group.")
            group.description = description
            await tx.groups.update(group)
            await record(tx, "admin_group_updated", caller, group=name)
        return group

    async def list_groups(self, cursor: str | None, limit: int) -> Page[GroupRecord]:
        async with self._store.read() as tx:
            return await tx.groups.list(cursor=cursor, limit=limit)

    async def delete_group(self, name: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            if not await tx.groups.delete(name):
                raise NotFound("No such group.")
            await record(tx, "admin_group_deleted", caller, group=name)

    async def add_member(self, name: str, sub: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            if await tx.groups.get(name) is None:
                raise NotFound("No such group.")
            await self._user(tx, sub)
            await tx.groups.add_member(name, sub)
            await record(tx, "admin_group_member_added", caller, sub=sub, group=name)

    async def remove_member(self, name: str, sub: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            if not await tx.groups.remove_member(name, sub):
                raise NotFound("No such group membership.")
            await record(tx, "admin_group_member_removed", caller, sub=sub, group=name)
