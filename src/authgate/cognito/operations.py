"""The operation table: every Cognito operation authgate serves, in one place.

`X-Amz-Target: AWSCognitoIdentityProviderService.<Name>` picks the entry. A `signed`
operation (the Admin*, List*, Describe* and group ones) runs only after `sigv4.verify`
accepts the request; the others are authorized as Cognito does, by ClientId, AccessToken
or Session, inside their handlers. Each group of operations lives in its own module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from authgate.cognito import auth_ops, self_ops, signup_ops
from authgate.cognito.call import Call

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
Handler = Callable[[Call], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Operation:
    handler: Handler
    signed: bool = False


OPERATIONS: dict[str, Operation] = {
    # sign-up and password reset (ClientId + SecretHash)
    "SignUp": Operation(signup_ops.sign_up),
    "ConfirmSignUp": Operation(signup_ops.confirm_sign_up),
    "ResendConfirmationCode": Operation(signup_ops.resend_confirmation_code),
    "ForgotPassword": Operation(signup_ops.forgot_password),
    "ConfirmForgotPassword": Operation(signup_ops.confirm_forgot_password),
    # sign-in and refresh (ClientId + SECRET_HASH / ClientSecret)
    "InitiateAuth": Operation(auth_ops.initiate_auth),
    "GetTokensFromRefreshToken": Operation(auth_ops.get_tokens_from_refresh_token),
    "RevokeToken": Operation(self_ops.revoke_token),
    # the signed-in user (AccessToken)
    "GetUser": Operation(self_ops.get_user),
    "UpdateUserAttributes": Operation(self_ops.update_user_attributes),
    "DeleteUserAttributes": Operation(self_ops.delete_user_attributes),
    "GetUserAttributeVerificationCode": Operation(self_ops.get_user_attribute_verification_code),
    "VerifyUserAttribute": Operation(self_ops.verify_user_attribute),
    "ChangePassword": Operation(self_ops.change_password),
    "GlobalSignOut": Operation(self_ops.global_sign_out),
    "DeleteUser": Operation(self_ops.delete_user),
    # challenges and MFA (t11-srp): RespondToAuthChallenge, AssociateSoftwareToken, ...
    # administrator operations, signed=True (t11-admin): AdminCreateUser, ListUsers, ...
}
"""Name (without TARGET_PREFIX) -> operation."""


def operation_of(target: str | None) -> tuple[str, Operation] | None:
    """The operation an `X-Amz-Target` value names, or None."""
    if target is None or not target.startswith(TARGET_PREFIX):
        return None
    name = target[len(TARGET_PREFIX) :]
    found = OPERATIONS.get(name)
    return (name, found) if found is not None else None


# -- administrator operations (issue 11, Cognito admin): all SigV4-signed ------------------


def _admin_operations() -> dict[str, Operation]:
    from authgate.cognito import admin_groups, admin_lists, admin_users

    handlers: dict[str, Handler] = {
        "AdminCreateUser": admin_users.admin_create_user,
        "AdminGetUser": admin_users.admin_get_user,
        "AdminDeleteUser": admin_users.admin_delete_user,
        "AdminDisableUser": admin_users.admin_disable_user,
        "AdminEnableUser": admin_users.admin_enable_user,
        "AdminSetUserPassword": admin_users.admin_set_user_password,
        "AdminResetUserPassword": admin_users.admin_reset_user_password,
        "AdminConfirmSignUp": admin_users.admin_confirm_sign_up,
        "AdminUpdateUserAttributes": admin_users.admin_update_user_attributes,
        "AdminDeleteUserAttributes": admin_users.admin_delete_user_attributes,
        "AdminUserGlobalSignOut": admin_users.admin_user_global_sign_out,
        "AdminInitiateAuth": admin_users.admin_initiate_auth,
        "AdminAddUserToGroup": admin_groups.admin_add_user_to_group,
        "AdminRemoveUserFromGroup": admin_groups.admin_remove_user_from_group,
        "AdminListGroupsForUser": admin_groups.admin_list_groups_for_user,
        "ListUsersInGroup": admin_groups.list_users_in_group,
        "CreateGroup": admin_groups.create_group,
        "GetGroup": admin_groups.get_group,
        "UpdateGroup": admin_groups.update_group,
        "DeleteGroup": admin_groups.delete_group,
        "ListGroups": admin_groups.list_groups,
        "ListUsers": admin_lists.list_users,
        "DescribeUserPool": admin_lists.describe_user_pool,
        "DescribeUserPoolClient": admin_lists.describe_user_pool_client,
        "ListUserPoolClients": admin_lists.list_user_pool_clients,
    }
    return {name: Operation(handler, signed=True) for name, handler in handlers.items()}


OPERATIONS.update(_admin_operations())
