"""Cognito's group operations, over `UserAdmin`'s groups (the admin REST API's)."""

from __future__ import annotations

import contextlib
from typing import Any

from authgate.cognito.admin_shapes import GROUP_NAME, group_type, pool_of, user_type
from authgate.cognito.admin_users import user_of
from authgate.cognito.call import Call
from authgate.cognito.errors import invalid_parameter
from authgate.cognito.pages import limit_of, next_token, page_cursor
from authgate.errors import NotFound


def _group_name(call: Call) -> str:
    return call.params.text("GroupName", GROUP_NAME)


def _refuse_unkept(call: Call) -> None:
    """Precedence and RoleArn are not kept by this pool; dropping them silently would lie."""
    for member in ("Precedence", "RoleArn"):
        if call.params.has(member):
            raise invalid_parameter(f"{member} is not supported by this user pool.")


async def create_group(call: Call) -> dict[str, Any]:
    pool_id = pool_of(call)
    _refuse_unkept(call)
    name = _group_name(call)
    description = call.params.optional_text("Description") or ""
    group = await call.services.admin.create_group(name, description, call.caller)
    return {"Group": group_type(group, pool_id)}


async def get_group(call: Call) -> dict[str, Any]:
    pool_id = pool_of(call)
    group = await call.services.admin.get_group(_group_name(call))
    return {"Group": group_type(group, pool_id)}


async def update_group(call: Call) -> dict[str, Any]:
    pool_id = pool_of(call)
    _refuse_unkept(call)
    name = _group_name(call)
    admin = call.services.admin
    description = call.params.optional_text("Description")
    if description is None:
        group = await admin.get_group(name)
    else:
        group = await admin.update_group(name, description, call.caller)
    return {"Group": group_type(group, pool_id)}


async def delete_group(call: Call) -> dict[str, Any]:
    pool_of(call)
    await call.services.admin.delete_group(_group_name(call), call.caller)
    return {}


async def list_groups(call: Call) -> dict[str, Any]:
    pool_id = pool_of(call)
    cursor = page_cursor(call, "NextToken", "groups")
    page = await call.services.admin.list_groups(cursor, limit_of(call, "Limit"))
    answer: dict[str, Any] = {"Groups": [group_type(g, pool_id) for g in page.items]}
    if page.next:
        answer["NextToken"] = next_token(call, page.next, "groups")
    return answer


async def admin_add_user_to_group(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    await call.services.admin.add_member(_group_name(call), user.sub, call.caller)
    return {}


async def admin_remove_user_from_group(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    name = _group_name(call)
    await call.services.admin.get_group(name)
    with contextlib.suppress(NotFound):  # not a member: Cognito answers success
        await call.services.admin.remove_member(name, user.sub, call.caller)
    return {}


async def admin_list_groups_for_user(call: Call) -> dict[str, Any]:
    pool_id = pool_of(call)
    user = await user_of(call)
    limit = limit_of(call, "Limit")
    offset = int(page_cursor(call, "NextToken", f"member-of:{user.sub}") or 0)
    names = user.groups[offset : offset + limit]
    groups = [await call.services.admin.get_group(name) for name in names]
    answer: dict[str, Any] = {"Groups": [group_type(g, pool_id) for g in groups]}
    if offset + limit < len(user.groups):
        answer["NextToken"] = next_token(call, str(offset + limit), f"member-of:{user.sub}")
    return answer


async def list_users_in_group(call: Call) -> dict[str, Any]:
    pool_of(call)
    name = _group_name(call)
    await call.services.admin.get_group(name)
    scope = f"group:{name}"
    cursor = page_cursor(call, "NextToken", scope)
    page = await call.services.admin.list_users(cursor, limit_of(call, "Limit"), group=name)
    answer: dict[str, Any] = {"Users": [user_type(u) for u in page.items]}
    if page.next:
        answer["NextToken"] = next_token(call, page.next, scope)
    return answer
