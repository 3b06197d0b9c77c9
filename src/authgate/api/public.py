"""The public user-pool API (`/v1/...`), in plain Starlette: these are hot paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.api.mfa import mfa_status
from authgate.api.requests import (
    NO_STORE,
    bearer_user,
    caller_of,
    field,
    read_body,
    services_of,
    signed_in_user,
    string_map,
)
from authgate.errors import InvalidRequest
from authgate.store.records import UserRecord

ACCEPTED = {"message": "If the account exists and needs it, a code has been sent."}
Endpoint = Callable[[Request], Awaitable[Response]]


def profile(user: UserRecord) -> dict[str, Any]:
    """The user as they may see themselves."""
    return {
        "sub": user.sub,
        "username": user.username,
        "email": user.email,
        "email_verified": user.email_verified,
        "pending_email": user.pending_email,
        "status": user.status,
        "groups": user.groups,
        "attributes": user.attributes,
        "created_at": int(user.created_at),
        "updated_at": int(user.updated_at),
    }


async def _profile(request: Request, user: UserRecord) -> dict[str, Any]:
    """The profile with the state of the user's second factor and the external identity
    providers linked to the account."""
    services = services_of(request)
    federation = services.federation
    links = await federation.accounts.links(user.sub, federation.flow.providers)
    return {
        **profile(user),
        "mfa": await mfa_status(services, user),
        "identity_providers": [
            {"name": link.provider, "subject": link.subject, "linked_at": int(link.linked_at)}
            for link in links
        ],
    }


async def signup(request: Request) -> Response:
    """
    summary: Register an account and mail it a confirmation code.
    description: A taken username answers exactly like a new one (the owner gets a notice).
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/Signup'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/Signup'}}
    responses:
      201:
        description: Registered, not yet confirmed.
        content:
          application/json:
            schema:
              type: object
              required: [sub, confirmed]
              properties: {sub: {type: string}, confirmed: {type: boolean}}
      400:
        description: >-
          invalid_request, invalid_password (with rules), invalid_attribute,
          signup_refused (the pre_signup hook refused; its message)
      429: {description: "too_many_requests"}
    """
    body = await read_body(request)
    attributes = body.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        raise InvalidRequest("attributes must be an object.", field="attributes")
    caller = replace(caller_of(request), client_metadata=string_map(body, "client_metadata"))
    outcome = await services_of(request).users.signups.signup(
        field(body, "email"),
        field(body, "password"),
        body.get("username"),
        attributes,
        caller,
    )
    answer = {"sub": outcome.sub, "confirmed": outcome.confirmed}
    return JSONResponse(answer, status_code=201, headers=NO_STORE)


async def confirm_signup(request: Request) -> Response:
    """
    summary: Confirm an account with the mailed code.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/ConfirmSignup'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/ConfirmSignup'}}
    responses:
      200:
        description: Confirmed.
        content:
          application/json:
            schema: {type: object, properties: {confirmed: {type: boolean}}}
      400: {description: "invalid_request, invalid_code"}
      429: {description: too_many_requests}
    """
    body = await read_body(request)
    await services_of(request).users.signups.confirm_signup(
        field(body, "username"), field(body, "code"), caller_of(request)
    )
    return JSONResponse({"confirmed": True}, headers=NO_STORE)


async def resend_code(request: Request) -> Response:
    """
    summary: Mail a new confirmation code to an unconfirmed account.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/Username'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/Username'}}
    responses:
      202: {description: "Always, whether or not the account exists: {message}"}
      400: {description: invalid_request}
      429: {description: too_many_requests}
    """
    body = await read_body(request)
    await services_of(request).users.signups.resend_code(
        field(body, "username"), caller_of(request)
    )
    return JSONResponse(ACCEPTED, status_code=202, headers=NO_STORE)


async def login(request: Request) -> Response:
    """
    summary: Sign in with username and password.
    description: With a confidential client, secret_hash is Cognito's SECRET_HASH.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/Login'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/Login'}}
    responses:
      200:
        description: >-
          Signed in; or, when a second factor is due, a challenge instead of tokens
          (`challenge: totp`: answer at /v1/login/mfa; `challenge: mfa_setup`: the pool
          requires MFA, enrol at /v1/login/mfa/setup).
        content:
          application/json:
            schema:
              oneOf:
                - {$ref: '#/components/schemas/Tokens'}
                - {$ref: '#/components/schemas/MfaChallenge'}
      400: {description: "invalid_request, invalid_password (the new password)"}
      401: {description: "invalid_credentials, invalid_client"}
      403: {description: "user_not_confirmed, user_disabled, new_password_required"}
      429: {description: too_many_requests}
    """
    body = await read_body(request)
    tokens = await services_of(request).login_flow.login(
        field(body, "username"),
        field(body, "password"),
        body.get("client_id"),
        body.get("secret_hash"),
        caller_of(request),
        new_password=body.get("new_password"),
    )
    return JSONResponse(tokens.as_json(), headers=NO_STORE)


async def refresh(request: Request) -> Response:
    """
    summary: >-
      Trade a refresh token for new tokens; the old refresh token is spent (for a client
      without rotation it is kept, and no new one is answered).
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/RefreshToken'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/RefreshToken'}}
    responses:
      200:
        description: New tokens.
        content: {application/json: {schema: {$ref: '#/components/schemas/Tokens'}}}
      400: {description: invalid_request}
      401: {description: "invalid_token (a reused token also revokes its sign-in)"}
      403: {description: "user_disabled"}
    """
    body = await read_body(request)
    token = field(body, "refresh_token")
    if not isinstance(token, str):
        raise InvalidRequest("refresh_token must be a string.", field="refresh_token")
    tokens = await services_of(request).tokens.refresh(token, caller_of(request))
    return JSONResponse(tokens.as_json(), headers=NO_STORE)


async def logout(request: Request) -> Response:
    """
    summary: Revoke the sign-in a refresh token belongs to.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/RefreshToken'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/RefreshToken'}}
    responses:
      200: {description: "Done (also for unknown tokens): {revoked: true}"}
      400: {description: invalid_request}
    """
    body = await read_body(request)
    token = field(body, "refresh_token")
    if not isinstance(token, str):
        raise InvalidRequest("refresh_token must be a string.", field="refresh_token")
    await services_of(request).tokens.revoke_family_of(token, caller_of(request))
    return JSONResponse({"revoked": True}, headers=NO_STORE)


async def logout_all(request: Request) -> Response:
    """
    summary: Revoke every sign-in of the caller; earlier access tokens stop working.
    security: [{bearer: []}]
    responses:
      200: {description: "Done: {revoked: true}"}
      401: {description: invalid_token}
      403: {description: user_disabled}
    """
    user = await signed_in_user(request)
    await services_of(request).users.sign_out_everywhere(user, caller_of(request))
    return JSONResponse({"revoked": True}, headers=NO_STORE)


async def forgot_password(request: Request) -> Response:
    """
    summary: Mail a password reset code.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/Username'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/Username'}}
    responses:
      202: {description: "Always the same answer, whether or not the account exists: {message}"}
      400: {description: invalid_request}
      429: {description: too_many_requests}
    """
    body = await read_body(request)
    await services_of(request).users.recovery.forgot_password(
        field(body, "username"), caller_of(request)
    )
    return JSONResponse(ACCEPTED, status_code=202, headers=NO_STORE)


async def reset_password(request: Request) -> Response:
    """
    summary: Set a new password with a reset code; every sign-in is revoked.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/ResetPassword'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/ResetPassword'}}
    responses:
      200: {description: "Done: {reset: true}"}
      400: {description: "invalid_request, invalid_code (also for unknown users), invalid_password"}
      429: {description: too_many_requests}
    """
    body = await read_body(request)
    await services_of(request).users.recovery.reset_password(
        field(body, "username"),
        field(body, "code"),
        field(body, "new_password"),
        caller_of(request),
    )
    return JSONResponse({"reset": True}, headers=NO_STORE)


async def show_me(request: Request) -> Response:
    """
    summary: The signed-in user.
    security: [{bearer: []}]
    responses:
      200:
        description: The profile.
        content: {application/json: {schema: {$ref: '#/components/schemas/Profile'}}}
      401: {description: invalid_token}
      403: {description: user_disabled}
    """
    return JSONResponse(await _profile(request, await signed_in_user(request)), headers=NO_STORE)


async def update_me(request: Request) -> Response:
    """
    summary: Change the signed-in user's attributes, or start a change of email address.
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/ProfileChanges'}}
    responses:
      200:
        description: The updated profile.
        content: {application/json: {schema: {$ref: '#/components/schemas/Profile'}}}
      400: {description: "invalid_request, invalid_attribute (with attribute)"}
      401: {description: invalid_token}
      403: {description: user_disabled}
      409: {description: "already_exists: the new email is taken"}
      429: {description: too_many_requests}
    """
    user = await signed_in_user(request)
    body = await read_body(request, allow_form=False)
    nested = body.pop("attributes", {})
    if not isinstance(nested, dict):
        raise InvalidRequest("attributes must be an object.", field="attributes")
    changes = {**body, **nested}  # `{"attributes": {...}, "email": ...}` or flat
    updated = await services_of(request).users.update_profile(user, changes, caller_of(request))
    return JSONResponse(await _profile(request, updated), headers=NO_STORE)


async def delete_me(request: Request) -> Response:
    """
    summary: Delete the signed-in user's account; needs the password.
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/DeleteAccount'}}
    responses:
      204: {description: Deleted.}
      400: {description: invalid_request}
      401: {description: "invalid_token, invalid_credentials"}
      403: {description: user_disabled}
      429: {description: too_many_requests}
    """
    user = await signed_in_user(request)
    body = await read_body(request, allow_form=False)
    services = services_of(request)
    await services.users.delete_account(user, field(body, "password"), caller_of(request))
    return Response(status_code=204)


async def change_password(request: Request) -> Response:
    """
    summary: Change the password; needs the current one. Every other sign-in ends.
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/ChangePassword'}}
    responses:
      200: {description: "Done: {changed: true}"}
      400: {description: "invalid_request, invalid_password"}
      401: {description: "invalid_token, invalid_credentials"}
      403: {description: user_disabled}
      429: {description: too_many_requests}
    """
    user, claims = await bearer_user(request)
    body = await read_body(request, allow_form=False)
    await services_of(request).users.change_password(
        user,
        field(body, "current_password"),
        field(body, "new_password"),
        caller_of(request),
        keep_jti=str(claims["jti"]),
    )
    return JSONResponse({"changed": True}, headers=NO_STORE)


async def verify_email(request: Request) -> Response:
    """
    summary: Verify a new email address with the mailed code.
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/Code'}}
    responses:
      200:
        description: The profile, with the new email.
        content: {application/json: {schema: {$ref: '#/components/schemas/Profile'}}}
      400: {description: "invalid_request, invalid_code"}
      401: {description: invalid_token}
      403: {description: user_disabled}
      409: {description: "already_exists: the address was taken meanwhile"}
      429: {description: too_many_requests}
    """
    user = await signed_in_user(request)
    body = await read_body(request, allow_form=False)
    updated = await services_of(request).users.verify_email(
        user, field(body, "code"), caller_of(request)
    )
    return JSONResponse(await _profile(request, updated), headers=NO_STORE)


routes = [
    Route("/v1/signup", signup, methods=["POST"]),
    Route("/v1/signup/confirm", confirm_signup, methods=["POST"]),
    Route("/v1/signup/resend", resend_code, methods=["POST"]),
    Route("/v1/login", login, methods=["POST"]),
    Route("/v1/token/refresh", refresh, methods=["POST"]),
    Route("/v1/logout", logout, methods=["POST"]),
    Route("/v1/logout/all", logout_all, methods=["POST"]),
    Route("/v1/password/forgot", forgot_password, methods=["POST"]),
    Route("/v1/password/reset", reset_password, methods=["POST"]),
    Route("/v1/me", show_me, methods=["GET"]),
    Route("/v1/me", update_me, methods=["PATCH"]),
    Route("/v1/me", delete_me, methods=["DELETE"]),
    Route("/v1/me/password", change_password, methods=["POST"]),
    Route("/v1/me/verify-email", verify_email, methods=["POST"]),
]
