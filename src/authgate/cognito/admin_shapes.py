"""Cognito's shapes for users, groups and the pool, as the administrator operations answer.

authgate keeps `email` and `email_verified` as account fields and every other attribute in
the user's attribute map; Cognito shows them all as one Name/Value list of strings. This
module translates both ways, so the handlers hold no attribute rule of their own.
"""

from __future__ import annotations

from typing import Any

from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError, invalid_parameter
from authgate.cognito.params import Shape
from authgate.cognito.shapes import typed_attributes, user_attributes
from authgate.identity.attributes import AttributeSchema
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


def pool_of(call: Call) -> str:
    """The call's UserPoolId, which must be authgate's one pool."""
    pool_id = call.params.text("UserPoolId", POOL_ID)
    if pool_id != call.settings.user_pool_id:
        raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
    return pool_id


def user_not_found() -> CognitoError:
    return CognitoError("UserNotFoundException", "User does not exist.")


def attribute_list(user: UserRecord, wanted: list[str] | None = None) -> list[dict[str, str]]:
    """The user's attributes as GetUser lists them; only `wanted` ones when given
    (ListUsers' AttributesToGet)."""
    pairs = user_attributes(user)
    return pairs if wanted is None else [p for p in pairs if p["Name"] in wanted]


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


def attribute_changes(schema: AttributeSchema, pairs: dict[str, str]) -> dict[str, Any]:
    """Cognito's Name/Value strings as the change map `UserAdmin` takes: typed as declared,
    `email` as given, and `email_verified`, which an administrator may set, as a boolean."""
    given = dict(pairs)
    changes: dict[str, Any] = {}
    if "email" in given:
        changes["email"] = given.pop("email")
    if "email_verified" in given:
        verified = given.pop("email_verified")
        if verified not in ("true", "false"):
            raise invalid_parameter("email_verified must be true or false.")
        changes["email_verified"] = verified == "true"
    changes.update(typed_attributes(schema, given))
    return changes
