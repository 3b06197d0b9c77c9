"""Cognito's Lambda trigger events (`hooks.format: cognito`), so that a trigger written for
Cognito runs unchanged behind a small HTTP wrapper (examples/hooks/cognito_lambda_shim.py).

The request is the event Cognito would pass (version, triggerSource, region, userPoolId,
userName, callerContext, request, response); the answer is the event the function
returns, of which `response` is read. A function that raises is answered by the shim as
HTTP 400 `{"errorType", "errorMessage"}` (Lambda's own error shape): for PreSignUp that is
the refusal, for UserMigration "not found", for the others a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from authgate.hooks.answers import (
    CODE_PARAMETER,
    USERNAME_PARAMETER,
    BadAnswer,
    SignupOutcome,
    flag,
    mapping,
    names,
    section,
    worded,
)
from authgate.identity.lifecycle import HookContext, Migrated, NewUser, SignupDecision
from authgate.identity.mail import Message
from authgate.store.records import UserRecord
from authgate.tokens.claims_change import ClaimsChange

SDK_VERSION = "authgate-hooks-1.0"

PRE_SIGNUP = {
    "signup": "PreSignUp_SignUp",
    "admin_create_user": "PreSignUp_AdminCreateUser",
    "external_provider": "PreSignUp_ExternalProvider",
}
POST_CONFIRMATION = {
    "confirm_signup": "PostConfirmation_ConfirmSignUp",
    "confirm_forgot_password": "PostConfirmation_ConfirmForgotPassword",
}
TOKEN_GENERATION = {
    "authentication": "TokenGeneration_Authentication",
    "refresh_tokens": "TokenGeneration_RefreshTokens",
    "hosted_auth": "TokenGeneration_HostedAuth",
}
USER_MIGRATION = {
    "authentication": "UserMigration_Authentication",
    "forgot_password": "UserMigration_ForgotPassword",
}
CUSTOM_MESSAGE = {
    "signup": "CustomMessage_SignUp",
    "resend_code": "CustomMessage_ResendCode",
    "forgot_password": "CustomMessage_ForgotPassword",
    "update_user_attribute": "CustomMessage_UpdateUserAttribute",
    "admin_create_user": "CustomMessage_AdminCreateUser",
}
USER_STATUS = {
    "confirmed": "CONFIRMED",
    "unconfirmed": "UNCONFIRMED",
    "force_change_password": "FORCE_CHANGE_PASSWORD",
    "reset_required": "RESET_REQUIRED",
}
FINAL_STATUS: dict[str, Literal["confirmed", "reset_required"]] = {
    "CONFIRMED": "confirmed",
    "RESET_REQUIRED": "reset_required",
}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def user_attributes(user: UserRecord) -> dict[str, str]:
    """Cognito's userAttributes: every value a string, the status included."""
    attributes = {k: _text(v) for k, v in user.attributes.items()}
    attributes["sub"] = user.sub
    attributes["cognito:user_status"] = USER_STATUS.get(user.status, user.status.upper())
    if user.email:
        attributes["email"] = user.email
        attributes["email_verified"] = _text(user.email_verified)
    return attributes


class CognitoFormat:
    name = "cognito"

    def __init__(self, region: str, user_pool_id: str) -> None:
        self._region = region
        self._pool = user_pool_id

    def _event(
        self,
        source: str,
        username: str,
        client_id: str | None,
        request: dict[str, Any],
        response: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "version": "1",
            "triggerSource": source,
            "region": self._region,
            "userPoolId": self._pool,
            "userName": username,
            "callerContext": {
                "awsSdkVersion": SDK_VERSION,
                "clientId": client_id or "CLIENT_ID_NOT_APPLICABLE",
            },
            "request": request,
            "response": response,
        }

    def pre_signup(self, user: NewUser, source: str, context: HookContext) -> dict[str, Any]:
        attributes = {k: _text(v) for k, v in user.attributes.items()}
        attributes["email"] = user.email
        request = {
            "userAttributes": attributes,
            "validationData": dict(context.validation_data),
            "clientMetadata": dict(context.client_metadata),
        }
        response = {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}
        return self._event(PRE_SIGNUP[source], user.username, context.client_id, request, response)

    def read_pre_signup(self, answer: Mapping[str, Any]) -> SignupOutcome:
        response = section(answer, "response")
        return SignupDecision(flag(response, "autoConfirmUser"), flag(response, "autoVerifyEmail"))

    def notice(
        self, hook: str, user: UserRecord, source: str, context: HookContext
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "userAttributes": user_attributes(user),
            "clientMetadata": dict(context.client_metadata),
        }
        if hook == "post_authentication":
            request["newDeviceUsed"] = False
            trigger = "PostAuthentication_Authentication"
        else:
            trigger = POST_CONFIRMATION[source]
        return self._event(trigger, user.username, context.client_id, request, {})

    def pre_token(
        self, user: UserRecord, client_id: str, claims: Mapping[str, Any], trigger: str
    ) -> dict[str, Any]:
        request = {
            "userAttributes": user_attributes(user),
            "groupConfiguration": {
                "groupsToOverride": list(user.groups),
                "iamRolesToOverride": [],
                "preferredRole": None,
            },
            "clientMetadata": {},
        }
        response = {"claimsOverrideDetails": None}
        return self._event(TOKEN_GENERATION[trigger], user.username, client_id, request, response)

    def read_pre_token(self, answer: Mapping[str, Any], claims: Mapping[str, Any]) -> ClaimsChange:
        details = section(section(answer, "response"), "claimsOverrideDetails")
        groups = section(details, "groupOverrideDetails")
        change = ClaimsChange(
            add=mapping(details, "claimsToAddOrOverride"),
            suppress=names(details, "claimsToSuppress"),
        )
        if groups.get("groupsToOverride") is None:
            return change
        wanted = names(groups, "groupsToOverride")
        current = claims.get("groups") or []
        return ClaimsChange(
            change.add,
            change.suppress,
            groups_add=wanted,
            groups_remove=tuple(g for g in current if g not in wanted),
        )

    def user_migration(
        self, username: str, password: str | None, source: str, context: HookContext
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "validationData": dict(context.validation_data),
            "clientMetadata": dict(context.client_metadata),
        }
        if password is not None:
            request["password"] = password
        response = {"userAttributes": None, "finalUserStatus": None, "messageAction": None}
        return self._event(USER_MIGRATION[source], username, context.client_id, request, response)

    def read_user_migration(self, answer: Mapping[str, Any], source: str) -> Migrated | None:
        """A function that returns is "found, and the password is right": the Cognito
        contract (a wrong password or an unknown user is an error the function raises)."""
        response = section(answer, "response")
        attributes = mapping(response, "userAttributes")
        if not attributes:
            raise BadAnswer("response.userAttributes is required")
        if not all(isinstance(v, str) for v in attributes.values()):
            raise BadAnswer("response.userAttributes must map names to strings")
        final = response.get("finalUserStatus") or "CONFIRMED"
        if final not in FINAL_STATUS:
            raise BadAnswer("response.finalUserStatus must be CONFIRMED or RESET_REQUIRED")
        return Migrated(
            {k: v for k, v in attributes.items() if k != "email_verified"},
            email=attributes.get("email"),
            status=FINAL_STATUS[final],
            email_verified=attributes.get("email_verified") == "true",
        )

    def custom_message(
        self, event: str, message: Message, user: Mapping[str, Any]
    ) -> dict[str, Any]:
        request = {
            "userAttributes": {k: _text(v) for k, v in user.items() if v is not None},
            "codeParameter": CODE_PARAMETER,
            "usernameParameter": USERNAME_PARAMETER,
            "clientMetadata": {},
        }
        response = {"smsMessage": None, "emailMessage": None, "emailSubject": None}
        username = str(user.get("username", ""))
        return self._event(CUSTOM_MESSAGE[event], username, None, request, response)

    def read_custom_message(
        self, answer: Mapping[str, Any], code: str | None, default: Message
    ) -> tuple[str, str] | None:
        """emailSubject and emailMessage; a function that leaves emailMessage null keeps
        the default message (None), as Cognito does."""
        response = section(answer, "response")
        body = response.get("emailMessage")
        if body is None:
            return None
        return worded(response.get("emailSubject"), body, code, default.subject)
