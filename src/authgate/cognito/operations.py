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

from authgate.cognito import auth_ops, challenges, mfa_ops, self_ops, signup_ops
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
    # challenges and MFA (t11-srp)
    "RespondToAuthChallenge": Operation(challenges.respond_to_auth_challenge),
    "AdminRespondToAuthChallenge": Operation(
        challenges.admin_respond_to_auth_challenge, signed=True
    ),
    "AssociateSoftwareToken": Operation(mfa_ops.associate_software_token),
    "VerifySoftwareToken": Operation(mfa_ops.verify_software_token),
    "SetUserMFAPreference": Operation(mfa_ops.set_user_mfa_preference),
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
