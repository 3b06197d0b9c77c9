"""The operations a signed-in user calls with their AccessToken: GetUser, attributes and
their verification, ChangePassword, GlobalSignOut, DeleteUser; and RevokeToken (ClientId).

Any live access token of a user of the pool is accepted that carries Cognito's
`aws.cognito.signin.user.admin` scope, which every pool sign-in grants (`/v1/login` as
well as InitiateAuth), so one sign-in serves both APIs.
"""

from __future__ import annotations

from typing import Any

from authgate.cognito.call import Call
from authgate.cognito.clients import existing_client
from authgate.cognito.errors import invalid_parameter, not_authorized
from authgate.cognito.params import ATTRIBUTE_NAME, CLIENT_SECRET, CODE, PASSWORD, TOKEN
from authgate.cognito.shapes import MANAGED, email_delivery, typed_attributes, user_attributes
from authgate.errors import InvalidClient
from authgate.store.records import UserRecord
from authgate.tokens.cognito_claims import POOL_SCOPE


async def _signed_in(call: Call) -> tuple[UserRecord, dict[str, Any]]:
    token = call.params.text("AccessToken", TOKEN)
    user, claims = await call.services.users.authenticate(token)
    if POOL_SCOPE not in str(claims.get("scope", "")).split():
        raise not_authorized("Access Token does not have required scopes")
    return user, claims


async def get_user(call: Call) -> dict[str, Any]:
    user, _ = await _signed_in(call)
    return {"Username": user.username, "UserAttributes": user_attributes(user)}


async def update_user_attributes(call: Call) -> dict[str, Any]:
    user, _ = await _signed_in(call)
    given = call.params.attributes("UserAttributes", required=True)
    call.params.string_map("ClientMetadata")
    email = given.pop("email", None)
    changes: dict[str, Any] = typed_attributes(call.services.users.attributes, given)
    if email is not None:
        changes["email"] = email
    updated = await call.services.users.update_profile(user, changes, call.caller)
    if email is not None and updated.pending_email is not None:
        return {"CodeDeliveryDetailsList": [email_delivery(updated.pending_email)]}
    return {}


async def delete_user_attributes(call: Call) -> dict[str, Any]:
    user, _ = await _signed_in(call)
    names = call.params.names("UserAttributeNames")
    for name in names:
        if name in MANAGED or name == "email":
            raise invalid_parameter(f"Cannot delete the attribute {name}")
        call.services.users.attributes.kind_of(name)
    await call.services.users.update_profile(user, dict.fromkeys(names), call.caller)
    return {}


def _email_only(call: Call) -> None:
    name = call.params.text("AttributeName", ATTRIBUTE_NAME)
    if name != "email":
        raise invalid_parameter(f"Attribute {name} cannot be verified here; only email can.")


async def get_user_attribute_verification_code(call: Call) -> dict[str, Any]:
    user, _ = await _signed_in(call)
    _email_only(call)
    call.params.string_map("ClientMetadata")
    if user.pending_email is None:
        raise invalid_parameter("The email address is already verified.")
    await call.services.users.update_profile(user, {"email": user.pending_email}, call.caller)
    return {"CodeDeliveryDetails": email_delivery(user.pending_email)}


async def verify_user_attribute(call: Call) -> dict[str, Any]:
    user, _ = await _signed_in(call)
    _email_only(call)
    code = call.params.text("Code", CODE)
    await call.services.users.verify_email(user, code, call.caller)
    return {}


async def change_password(call: Call) -> dict[str, Any]:
    user, claims = await _signed_in(call)
    previous = call.params.text("PreviousPassword", PASSWORD)
    proposed = call.params.text("ProposedPassword", PASSWORD)
    await call.services.users.change_password(
        user, previous, proposed, call.caller, keep_jti=str(claims["jti"])
    )
    return {}


async def global_sign_out(call: Call) -> dict[str, Any]:
    user, _ = await _signed_in(call)
    await call.services.users.sign_out_everywhere(user, call.caller)
    return {}


async def delete_user(call: Call) -> dict[str, Any]:
    user, _ = await _signed_in(call)
    await call.services.users.delete_signed_in(user, call.caller)
    return {}


async def revoke_token(call: Call) -> dict[str, Any]:
    """Revoke the sign-in of a refresh token issued to this client (unknown tokens: done)."""
    token = call.params.text("Token", TOKEN)
    secret = call.params.optional_text("ClientSecret", CLIENT_SECRET)
    client = await existing_client(call)
    if client.metadata.has_secret:
        await call.services.clients.authenticate(client.client_id, secret or "")
    elif secret is not None:
        raise InvalidClient(f"Client {client.client_id} has no secret.")
    holder = await call.services.tokens.refresh_holder(token)
    if holder is not None and holder[1] != client.client_id:
        raise not_authorized("Token was not issued to this client.")
    await call.services.tokens.revoke_family_of(token, call.caller)
    return {}
