"""Cognito's Admin* user operations, over the same `UserAdmin` as the admin REST API.

Each handler reads Cognito's members, finds the user by name, calls one `UserAdmin`
method and answers in Cognito's shape. Admin operations are SigV4-signed, so they name an
unknown user plainly (UserNotFoundException), as Cognito does for them.
"""

from __future__ import annotations

from typing import Any

from authgate.cognito import auth_ops
from authgate.cognito.admin_shapes import (
    admin_user,
    attribute_changes,
    pool_of,
    user_not_found,
    user_type,
)
from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError, invalid_parameter
from authgate.cognito.params import ATTRIBUTE_NAME, PASSWORD, USERNAME
from authgate.errors import NotFound
from authgate.store.records import UserRecord


async def user_of(call: Call) -> UserRecord:
    """The pool checked, then the user the call's `Username` names."""
    pool_of(call)
    username = call.params.text("Username", USERNAME)
    try:
        return await call.services.admin.get_by_username(username)
    except NotFound:
        raise user_not_found() from None


async def admin_create_user(call: Call) -> dict[str, Any]:
    pool_of(call)
    params = call.params
    username = params.text("Username", USERNAME)
    attributes = attribute_changes(
        call.services.users.attributes, params.attributes("UserAttributes")
    )
    email = attributes.pop("email", None)
    email_verified = bool(attributes.pop("email_verified", False))
    temporary = params.optional_text("TemporaryPassword", PASSWORD)
    action = params.optional_text("MessageAction")
    if action not in (None, "SUPPRESS", "RESEND"):
        raise invalid_parameter("MessageAction must be RESEND or SUPPRESS.")
    mediums = (
        call.params.names("DesiredDeliveryMediums") if params.has("DesiredDeliveryMediums") else []
    )
    if any(medium != "EMAIL" for medium in mediums):
        raise invalid_parameter("Only EMAIL delivery is available in this pool.")
    admin = call.services.admin
    if action == "RESEND":
        user = await user_of(call)
        if user.status != "force_change_password":
            raise CognitoError(
                "UnsupportedUserStateException", "User is not in FORCE_CHANGE_PASSWORD state."
            )
        user = await admin.reinvite(user.sub, temporary, call.caller)
        return {"User": user_type(user)}
    user = await admin.create_user(
        email,
        None,
        username,
        {name: value for name, value in attributes.items() if value is not None},
        send_invite=action != "SUPPRESS" and email is not None,
        email_verified=email_verified,
        caller=call.caller,
        temporary=temporary,
        require_email=False,
    )
    return {"User": user_type(user)}


async def admin_get_user(call: Call) -> dict[str, Any]:
    return admin_user(await user_of(call))


async def admin_delete_user(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    await call.services.admin.delete_user(user.sub, call.caller)
    return {}


async def admin_disable_user(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    await call.services.admin.set_enabled(user.sub, False, call.caller)
    return {}


async def admin_enable_user(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    await call.services.admin.set_enabled(user.sub, True, call.caller)
    return {}


async def admin_set_user_password(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    password = call.params.text("Password", PASSWORD)
    permanent = call.params.boolean("Permanent")
    await call.services.admin.set_password(user.sub, password, permanent, call.caller)
    return {}


async def admin_reset_user_password(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    if user.status == "unconfirmed":
        raise CognitoError(
            "NotAuthorizedException", "User password cannot be reset in the current state."
        )
    await call.services.admin.reset_password(user.sub, call.caller, require=True)
    return {}


async def admin_confirm_sign_up(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    if user.status != "unconfirmed":
        raise CognitoError(
            "NotAuthorizedException",
            f"User cannot be confirmed. Current status is {user.status.upper()}",
        )
    await call.services.admin.confirm(user.sub, call.caller)
    return {}


async def admin_update_user_attributes(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    changes = attribute_changes(
        call.services.users.attributes, call.params.attributes("UserAttributes", required=True)
    )
    await call.services.admin.update_attributes(user.sub, changes, call.caller)
    return {}


async def admin_delete_user_attributes(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    names = call.params.names("UserAttributeNames", ATTRIBUTE_NAME)
    if any(name in ("sub", "email", "email_verified") for name in names):
        raise invalid_parameter("Cannot delete the attributes sub, email or email_verified here.")
    changes: dict[str, Any] = {name: None for name in names}
    await call.services.admin.update_attributes(user.sub, changes, call.caller)
    return {}


async def admin_user_global_sign_out(call: Call) -> dict[str, Any]:
    user = await user_of(call)
    await call.services.admin.sign_out(user.sub, call.caller)
    return {}


ADMIN_FLOWS: dict[str, auth_ops.AuthFlow] = {
    "ADMIN_USER_PASSWORD_AUTH": auth_ops.user_password_auth,
    "ADMIN_NO_SRP_AUTH": auth_ops.user_password_auth,  # its former name
    "REFRESH_TOKEN_AUTH": auth_ops.refresh_token_auth,
    "REFRESH_TOKEN": auth_ops.refresh_token_auth,
}
"""AdminInitiateAuth's flows: InitiateAuth's own code, behind the signature."""


async def admin_initiate_auth(call: Call) -> dict[str, Any]:
    pool_of(call)
    flow_name = call.params.text("AuthFlow", auth_ops.FLOW)
    parameters = call.params.string_map("AuthParameters")
    call.params.string_map("ClientMetadata")
    flow = ADMIN_FLOWS.get(flow_name)
    if flow is None:
        raise invalid_parameter(f"Unsupported auth flow {flow_name}")
    return await flow(call, parameters)
