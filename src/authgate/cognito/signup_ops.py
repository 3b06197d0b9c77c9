"""SignUp, ConfirmSignUp, ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword:
the pool's self-service flows (`UserPool`), authorized by ClientId and SecretHash."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from authgate.cognito.call import Call
from authgate.cognito.clients import client_of, secret_hash_member
from authgate.cognito.errors import CognitoError
from authgate.cognito.params import CODE, PASSWORD, USERNAME
from authgate.cognito.shapes import email_delivery, typed_attributes
from authgate.errors import NotFound
from authgate.store.records import UserRecord


async def _username(call: Call) -> str:
    """`Username`, after the client and its SecretHash of it are checked."""
    username = call.params.text("Username", USERNAME)
    await client_of(call, username, secret_hash_member(call))
    return username


async def known_user(
    call: Call, username: str, message: str = "Username/client id combination not found."
) -> UserRecord | None:
    """With `prevent_user_existence_errors: false` (Cognito's legacy mode) an unknown
    user is UserNotFoundException; otherwise nothing is looked up here (None)."""
    if call.settings.prevent_user_existence_errors:
        return None
    try:
        return await call.services.admin.get_by_username(username)
    except NotFound:
        raise CognitoError("UserNotFoundException", message) from None


async def sign_up(call: Call) -> dict[str, Any]:
    username = call.params.text("Username", USERNAME)
    password = call.params.text("Password", PASSWORD)
    given = call.params.attributes("UserAttributes")
    validation = call.params.attributes("ValidationData")  # handed to the pre_signup hook
    metadata = call.params.string_map("ClientMetadata")
    client = await client_of(call, username, secret_hash_member(call))
    caller = replace(
        call.caller,
        client_id=client.client_id,
        validation_data=tuple(validation.items()),
        client_metadata=tuple(metadata.items()),
    )
    email = given.pop("email", None)
    if email is None and "@" in username:
        email = username  # a pool whose usernames are email addresses
    attributes = typed_attributes(call.services.users.attributes, given)
    outcome = await call.services.users.signups.signup(
        email, password, username, attributes, caller, reveal_taken=True
    )
    answer: dict[str, Any] = {"UserConfirmed": outcome.confirmed, "UserSub": outcome.sub}
    if email:
        answer["CodeDeliveryDetails"] = email_delivery(email)
    return answer


async def confirm_sign_up(call: Call) -> dict[str, Any]:
    username = await _username(call)
    code = call.params.text("ConfirmationCode", CODE)
    call.params.boolean("ForceAliasCreation")
    await known_user(call, username)
    await call.services.users.signups.confirm_signup(username, code, call.caller)
    return {}


async def resend_confirmation_code(call: Call) -> dict[str, Any]:
    username = await _username(call)
    user = await known_user(call, username)
    await call.services.users.signups.resend_code(username, call.caller)
    return {"CodeDeliveryDetails": email_delivery(_destination(user, username))}


async def forgot_password(call: Call) -> dict[str, Any]:
    username = await _username(call)
    user = await known_user(call, username)
    await call.services.users.recovery.forgot_password(username, call.caller)
    return {"CodeDeliveryDetails": email_delivery(_destination(user, username))}


async def confirm_forgot_password(call: Call) -> dict[str, Any]:
    username = await _username(call)
    code = call.params.text("ConfirmationCode", CODE)
    password = call.params.text("Password", PASSWORD)
    await known_user(call, username)
    await call.services.users.recovery.reset_password(username, code, password, call.caller)
    return {}


def _destination(user: UserRecord | None, username: str) -> str:
    """Where the code went, masked. Without a looked-up user (no enumeration) the
    username stands in when it is an address, else a fixed placeholder: the answer must
    not depend on whether the account exists."""
    if user is not None and user.email:
        return user.email
    return username if "@" in username else "?@?"
