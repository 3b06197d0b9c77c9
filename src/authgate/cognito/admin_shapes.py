"""Cognito's shapes for users, groups and the pool, as the administrator operations answer.

authgate keeps `email` and `email_verified` as account fields and every other attribute in
the user's attribute map; Cognito shows them all as one Name/Value list of strings. This
module translates both ways, so the handlers hold no attribute rule of their own.
"""

from __future__ import annotations

import json
from typing import Any

from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError, invalid_parameter
from authgate.cognito.params import Shape
from authgate.store.records import GroupRecord, UserRecord

POOL_ID = Shape(1, 55, r"[\w-]+_[0-9a-zA-Z]+")
GROUP_NAME = Shape(1, 128, r"[^\s\x00-\x1f\x7f-\x9f]+")

USER_STATUS = {
    "unconfirmed": "UNCONFIRMED",
    "confirmed": "CONFIRMED",
    "force_change_password": "FORCE_CHANGE_PASSWORD",
    "reset_required": "RESET_REQUIRED",
}
"""authgate's account status -> Cognito's UserStatus."""

READ_ONLY = frozenset({"sub"})
"""Attributes Cognito computes; a request may not set them."""


def pool_of(call: Call) -> str:
    """The call's UserPoolId, which must be authgate's one pool."""
    pool_id = call.params.text("UserPoolId", POOL_ID)
    if pool_id != call.settings.user_pool_id:
        raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
    return pool_id


def user_not_found() -> CognitoError:
    return CognitoError("UserNotFoundException", "User does not exist.")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def attribute_list(user: UserRecord, wanted: list[str] | None = None) -> list[dict[str, str]]:
    """The user's attributes as Cognito's [{Name, Value}], `sub` first; only `wanted` ones
    when given (ListUsers' AttributesToGet)."""
    pairs: list[tuple[str, str]] = [("sub", user.sub)]
    if user.email is not None:
        pairs += [("email", user.email), ("email_verified", _text(user.email_verified))]
    pairs += [(name, _text(value)) for name, value in sorted(user.attributes.items())]
    if wanted is not None:
        pairs = [(name, value) for name, value in pairs if name in wanted]
    return [{"Name": name, "Value": value} for name, value in pairs]


def user_type(user: UserRecord, wanted: list[str] | None = None) -> dict[str, Any]:
    """Cognito's UserType (ListUsers, AdminCreateUser, ListUsersInGroup)."""
    return {
        "Username": user.username,
        "Attributes": attribute_list(user, wanted),
        "UserCreateDate": user.created_at,
        "UserLastModifiedDate": user.updated_at,
        "Enabled": user.enabled,
        "UserStatus": USER_STATUS.get(user.status, "UNKNOWN"),
    }


def admin_user(user: UserRecord) -> dict[str, Any]:
    """AdminGetUser's answer: the same facts under its own member names."""
    return {
        "Username": user.username,
        "UserAttributes": attribute_list(user),
        "UserCreateDate": user.created_at,
        "UserLastModifiedDate": user.updated_at,
        "Enabled": user.enabled,
        "UserStatus": USER_STATUS.get(user.status, "UNKNOWN"),
        "UserMFASettingList": [],
    }


def group_type(group: GroupRecord, pool_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "GroupName": group.name,
        "UserPoolId": pool_id,
        "CreationDate": group.created_at,
        "LastModifiedDate": group.created_at,
    }
    if group.description:
        answer["Description"] = group.description
    return answer


def attribute_changes(pairs: dict[str, str]) -> dict[str, Any]:
    """Cognito's Name/Value strings as the change map `UserAdmin.update_attributes` takes:
    `email_verified` as a boolean, an empty value as a removal, `sub` refused."""
    changes: dict[str, Any] = {}
    for name, value in pairs.items():
        if name in READ_ONLY:
            raise invalid_parameter(f"Cannot modify the non-mutable attribute {name}")
        if name == "email_verified":
            if value not in ("true", "false"):
                raise invalid_parameter("email_verified must be true or false.")
            changes[name] = value == "true"
        elif name == "phone_number_verified":
            raise invalid_parameter("phone_number_verified is not kept by this pool.")
        else:
            changes[name] = value if value != "" or name == "email" else None
    return changes
