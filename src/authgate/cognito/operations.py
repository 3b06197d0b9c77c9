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

from authgate.cognito import (
    admin_groups,
    admin_lists,
    admin_users,
    auth_ops,
    challenges,
    mfa_ops,
    self_ops,
    signup_ops,
)
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
    # challenges and MFA
    "RespondToAuthChallenge": Operation(challenges.respond_to_auth_challenge),
    "AdminRespondToAuthChallenge": Operation(
        challenges.admin_respond_to_auth_challenge, signed=True
    ),
    "AssociateSoftwareToken": Operation(mfa_ops.associate_software_token),
    "VerifySoftwareToken": Operation(mfa_ops.verify_software_token),
    "SetUserMFAPreference": Operation(mfa_ops.set_user_mfa_preference),
    # administrator operations: SigV4-signed (cognito/sigv4.py) by one of cognito.access_keys
    "AdminCreateUser": Operation(admin_users.admin_create_user, signed=True),
    "AdminGetUser": Operation(admin_users.admin_get_user, signed=True),
    "AdminDeleteUser": Operation(admin_users.admin_delete_user, signed=True),
    "AdminDisableUser": Operation(admin_users.admin_disable_user, signed=True),
    "AdminEnableUser": Operation(admin_users.admin_enable_user, signed=True),
    "AdminSetUserPassword": Operation(admin_users.admin_set_user_password, signed=True),
    "AdminResetUserPassword": Operation(admin_users.admin_reset_user_password, signed=True),
    "AdminConfirmSignUp": Operation(admin_users.admin_confirm_sign_up, signed=True),
    "AdminUpdateUserAttributes": Operation(admin_users.admin_update_user_attributes, signed=True),
    "AdminDeleteUserAttributes": Operation(admin_users.admin_delete_user_attributes, signed=True),
    "AdminUserGlobalSignOut": Operation(admin_users.admin_user_global_sign_out, signed=True),
    "AdminInitiateAuth": Operation(admin_users.admin_initiate_auth, signed=True),
    "AdminAddUserToGroup": Operation(admin_groups.admin_add_user_to_group, signed=True),
    "AdminRemoveUserFromGroup": Operation(admin_groups.admin_remove_user_from_group, signed=True),
    "AdminListGroupsForUser": Operation(admin_groups.admin_list_groups_for_user, signed=True),
    "ListUsersInGroup": Operation(admin_groups.list_users_in_group, signed=True),
    "CreateGroup": Operation(admin_groups.create_group, signed=True),
    "GetGroup": Operation(admin_groups.get_group, signed=True),
    "UpdateGroup": Operation(admin_groups.update_group, signed=True),
    "DeleteGroup": Operation(admin_groups.delete_group, signed=True),
    "ListGroups": Operation(admin_groups.list_groups, signed=True),
    "ListUsers": Operation(admin_lists.list_users, signed=True),
    "DescribeUserPool": Operation(admin_lists.describe_user_pool, signed=True),
    "DescribeUserPoolClient": Operation(admin_lists.describe_user_pool_client, signed=True),
    "ListUserPoolClients": Operation(admin_lists.list_user_pool_clients, signed=True),
}
"""Name (without TARGET_PREFIX) -> operation."""


def operation_of(target: str | None) -> tuple[str, Operation] | None:
    """The operation an `X-Amz-Target` value names, or None."""
    if target is None or not target.startswith(TARGET_PREFIX):
        return None
    name = target[len(TARGET_PREFIX) :]
    found = OPERATIONS.get(name)
    return (name, found) if found is not None else None
