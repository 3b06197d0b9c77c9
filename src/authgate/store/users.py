"""Users and groups."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from authgate.errors import AlreadyExists
from authgate.store.records import GroupRecord, Page, UserRecord
from authgate.store.tables import group_members, groups, users

_USER_FIELDS = (
    "username",
    "email",
    "email_verified",
    "status",
    "enabled",
    "password_hash",
    "attributes",
    "pending_email",
    "tokens_valid_after",
    "created_at",
    "updated_at",
    "username_skeleton",
)


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class FieldMatch:
    """One field equal to, or starting with, a value: a column (`username`, `email`, `sub`,
    `status`) or else a key of the user's attributes, compared as text."""

    field: str
    value: str
    prefix: bool = False


_MATCHABLE_COLUMNS = ("username", "email", "sub", "status")


def _matches(match: FieldMatch) -> ColumnElement[bool]:
    if match.field in _MATCHABLE_COLUMNS:
        column: ColumnElement[Any] = users.c[match.field]
    else:
        column = users.c.attributes[match.field].as_string()
    if match.prefix:
        return column.startswith(match.value, autoescape=True)
    return column == match.value


def _user(row: Any) -> UserRecord:
    return UserRecord(sub=row.sub, **{name: getattr(row, name) for name in _USER_FIELDS})


class UserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, user: UserRecord) -> None:
        values = {name: getattr(user, name) for name in _USER_FIELDS}
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(users).values(sub=user.sub, **values))
        except IntegrityError:
            raise AlreadyExists(
                "A user with this username, or one that looks like it, already exists."
            ) from None

    async def update(self, user: UserRecord) -> None:
        values = {name: getattr(user, name) for name in _USER_FIELDS if name != "created_at"}
        await self._conn.execute(update(users).where(users.c.sub == user.sub).values(**values))

    async def delete(self, sub: str) -> None:
        await self._conn.execute(delete(group_members).where(group_members.c.sub == sub))
        await self._conn.execute(delete(users).where(users.c.sub == sub))

    async def get(self, sub: str) -> UserRecord | None:
        row = (await self._conn.execute(select(users).where(users.c.sub == sub))).first()
        return await self._with_groups(_user(row)) if row else None

    async def liveness(self, sub: str) -> tuple[bool, float] | None:
        """(enabled, tokens_valid_after) of the user, None if gone: one small read, for a
        sign-in that read the whole user moments ago in another transaction."""
        query = select(users.c.enabled, users.c.tokens_valid_after).where(users.c.sub == sub)
        row = (await self._conn.execute(query)).first()
        return None if row is None else (bool(row.enabled), float(row.tokens_valid_after))

    async def get_by_username(self, username: str) -> UserRecord | None:
        query = select(users).where(users.c.username == username)
        row = (await self._conn.execute(query)).first()
        return await self._with_groups(_user(row)) if row else None

    async def sign_in_lookup(self, username: str) -> UserRecord | None:
        """`get_by_username` in one statement (the user joined to its groups), for the
        sign-in path, which reads a user on every attempt."""
        query = (
            select(users, group_members.c.group_name)
            .outerjoin(group_members, group_members.c.sub == users.c.sub)
            .where(users.c.username == username)
            .order_by(group_members.c.group_name)
        )
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return None
        user = _user(rows[0])
        user.groups = [row.group_name for row in rows if row.group_name is not None]
        return user

    async def get_by_skeleton(self, skeleton: str) -> UserRecord | None:
        """The user whose username looks like one with this skeleton (one indexed lookup)."""
        query = select(users).where(users.c.username_skeleton == skeleton)
        row = (await self._conn.execute(query)).first()
        return await self._with_groups(_user(row)) if row else None

    async def _with_groups(self, user: UserRecord) -> UserRecord:
        query = (
            select(group_members.c.group_name)
            .where(group_members.c.sub == user.sub)
            .order_by(group_members.c.group_name)
        )
        user.groups = list((await self._conn.execute(query)).scalars())
        return user

    async def list(
        self,
        *,
        username_prefix: str | None = None,
        email_prefix: str | None = None,
        status: str | None = None,
        enabled: bool | None = None,
        group: str | None = None,
        match: FieldMatch | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[UserRecord]:
        query = select(users).order_by(users.c.username).limit(limit + 1)
        if match is not None:
            query = query.where(_matches(match))
        if username_prefix:
            query = query.where(users.c.username.startswith(username_prefix, autoescape=True))
        if email_prefix:
            query = query.where(users.c.email.startswith(email_prefix, autoescape=True))
        if status:
            query = query.where(users.c.status == status)
        if enabled is not None:
            query = query.where(users.c.enabled == enabled)
        if group:
            members = select(group_members.c.sub).where(group_members.c.group_name == group)
            query = query.where(users.c.sub.in_(members))
        after = decode_cursor(cursor)
        if after is not None:
            query = query.where(users.c.username > after)
        rows = (await self._conn.execute(query)).all()
        items = [await self._with_groups(_user(row)) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1].username) if len(rows) > limit else None
        return Page(items=items, next=next_cursor)

    async def count(self) -> int:
        return int((await self._conn.execute(select(func.count()).select_from(users))).scalar_one())


class GroupRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, group: GroupRecord) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(groups).values(
                        name=group.name, description=group.description, created_at=group.created_at
                    )
                )
        except IntegrityError:
            raise AlreadyExists("A group with this name already exists.") from None

    async def get(self, name: str) -> GroupRecord | None:
        row = (await self._conn.execute(select(groups).where(groups.c.name == name))).first()
        return GroupRecord(row.name, row.description, row.created_at) if row else None

    async def list(self, *, cursor: str | None = None, limit: int = 50) -> Page[GroupRecord]:
        query = select(groups).order_by(groups.c.name).limit(limit + 1)
        after = decode_cursor(cursor)
        if after is not None:
            query = query.where(groups.c.name > after)
        rows = (await self._conn.execute(query)).all()
        items = [GroupRecord(r.name, r.description, r.created_at) for r in rows[:limit]]
        return Page(items, encode_cursor(items[-1].name) if len(rows) > limit else None)

    async def update(self, group: GroupRecord) -> None:
        await self._conn.execute(
            update(groups).where(groups.c.name == group.name).values(description=group.description)
        )

    async def delete(self, name: str) -> bool:
        await self._conn.execute(delete(group_members).where(group_members.c.group_name == name))
        result = await self._conn.execute(delete(groups).where(groups.c.name == name))
        return bool(result.rowcount)

    async def add_member(self, name: str, sub: str) -> None:
        exists = select(group_members).where(
            group_members.c.group_name == name, group_members.c.sub == sub
        )
        if (await self._conn.execute(exists)).first() is not None:
            return
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(insert(group_members).values(group_name=name, sub=sub))
        except IntegrityError:
            pass  # added concurrently: the membership exists, which is what was asked

    async def remove_member(self, name: str, sub: str) -> bool:
        result = await self._conn.execute(
            delete(group_members).where(
                group_members.c.group_name == name, group_members.c.sub == sub
            )
        )
        return bool(result.rowcount)
