"""The passkey API: the owner's passkeys under `/v1/me/passkeys`, sign-in under
`/v1/passkeys/login`. Bodies are JSON; credentials are the WebAuthn JSON encoding
(`PublicKeyCredential.toJSON()`: base64url fields)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.api.requests import (
    NO_STORE,
    bearer_user,
    caller_of,
    read_body,
    services_of,
    signed_in_user,
)
from authgate.store.records import PasskeyRecord, UserRecord


def passkey_view(passkey: PasskeyRecord) -> dict[str, Any]:
    """What the owner sees of a passkey (never its key or counter)."""
    return {
        "id": passkey.id,
        "name": passkey.name,
        "created_at": int(passkey.created_at),
        "last_used_at": int(passkey.last_used_at) if passkey.last_used_at else None,
        "device_type": passkey.device_type,
        "backed_up": passkey.backed_up,
        "transports": passkey.transports,
    }


async def _me_and_binding(request: Request) -> tuple[UserRecord, str]:
    """The caller and the session their challenge is bound to: the access token's jti."""
    user, claims = await bearer_user(request)
    return user, f"jti:{claims['jti']}"


async def registration_options(request: Request) -> Response:
    """
    summary: Start registering a passkey; needs the password again.
    description: >-
      Answers `options`, a PublicKeyCredentialCreationOptionsJSON for
      `navigator.credentials.create` (PublicKeyCredential.parseCreationOptionsFromJSON).
      Its challenge is single use, expires after `webauthn.challenge_ttl` and is bound to
      this access token: register with the same one.
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/PasskeyReauth'}}
    responses:
      200:
        description: Creation options.
        content:
          application/json:
            schema:
              type: object
              required: [options]
              properties: {options: {type: object}}
      400: {description: "invalid_request (also: too many passkeys)"}
      401: {description: "invalid_token, invalid_credentials (the password)"}
      403: {description: user_disabled}
      429: {description: too_many_requests}
    """
    user, binding = await _me_and_binding(request)
    body = await read_body(request, allow_form=False)
    services = services_of(request)
    await services.users.check_password(user, body.get("password"), caller_of(request))
    options = await services.passkeys.registration_options(user, binding)
    return JSONResponse({"options": options}, headers=NO_STORE)


async def register(request: Request) -> Response:
    """
    summary: Register a passkey with the authenticator's answer.
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/PasskeyRegistration'}}
    responses:
      201:
        description: Registered.
        content: {application/json: {schema: {$ref: '#/components/schemas/Passkey'}}}
      400:
        description: "invalid_request, invalid_passkey (origin, RP ID, challenge, user
          verification, signature)"
      401: {description: invalid_token}
      403: {description: user_disabled}
    """
    user, binding = await _me_and_binding(request)
    body = await read_body(request, allow_form=False)
    passkey = await services_of(request).passkeys.register(
        user, binding, body.get("credential"), body.get("name"), caller_of(request)
    )
    return JSONResponse(passkey_view(passkey), status_code=201, headers=NO_STORE)


async def list_passkeys(request: Request) -> Response:
    """
    summary: The caller's passkeys, oldest first.
    security: [{bearer: []}]
    responses:
      200:
        description: The passkeys.
        content:
          application/json:
            schema:
              type: object
              properties:
                passkeys: {type: array, items: {$ref: '#/components/schemas/Passkey'}}
      401: {description: invalid_token}
      403: {description: user_disabled}
    """
    user = await signed_in_user(request)
    passkeys = await services_of(request).passkeys.list(user)
    return JSONResponse({"passkeys": [passkey_view(p) for p in passkeys]}, headers=NO_STORE)


async def rename(request: Request) -> Response:
    """
    summary: Rename one of the caller's passkeys.
    security: [{bearer: []}]
    parameters:
      - {name: passkey_id, in: path, required: true, schema: {type: string}}
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/PasskeyName'}}
    responses:
      200:
        description: Renamed.
        content: {application/json: {schema: {$ref: '#/components/schemas/Passkey'}}}
      400: {description: invalid_request}
      401: {description: invalid_token}
      403: {description: user_disabled}
      404: {description: "not_found (also another user's passkey)"}
    """
    user = await signed_in_user(request)
    body = await read_body(request, allow_form=False)
    passkey = await services_of(request).passkeys.rename(
        user, request.path_params["passkey_id"], body.get("name"), caller_of(request)
    )
    return JSONResponse(passkey_view(passkey), headers=NO_STORE)


async def remove(request: Request) -> Response:
    """
    summary: Remove one of the caller's passkeys.
    security: [{bearer: []}]
    parameters:
      - {name: passkey_id, in: path, required: true, schema: {type: string}}
    responses:
      204: {description: Removed.}
      401: {description: invalid_token}
      403: {description: user_disabled}
      404: {description: "not_found (also another user's passkey)"}
    """
    user = await signed_in_user(request)
    await services_of(request).passkeys.remove(
        user, request.path_params["passkey_id"], caller_of(request)
    )
    return Response(status_code=204, headers=NO_STORE)


async def login_options(request: Request) -> Response:
    """
    summary: Start a passkey sign-in.
    description: >-
      Without `username`, options for a discoverable credential (empty allowCredentials).
      With one, that user's credentials; an unknown name gets the same kind of answer.
      Sign in with the `session` returned here.
    requestBody:
      required: false
      content:
        application/json: {schema: {$ref: '#/components/schemas/PasskeyLoginStart'}}
    responses:
      200:
        description: Request options (PublicKeyCredentialRequestOptionsJSON) and the session.
        content:
          application/json:
            schema:
              type: object
              required: [options, session]
              properties: {options: {type: object}, session: {type: string}}
      400: {description: invalid_request}
      429: {description: too_many_requests}
    """
    body = await read_body(request, allow_form=False)
    started = await services_of(request).passkeys.login_options(
        body.get("username"), caller_of(request)
    )
    return JSONResponse({"options": started.options, "session": started.session}, headers=NO_STORE)


async def login(request: Request) -> Response:
    """
    summary: Sign in with a passkey.
    description: >-
      The tokens of /v1/login, with `amr` ["hwk"] for a device-bound passkey or ["swk"] for
      a synced (backup eligible) one. A passkey sign-in needs no second factor.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/PasskeyLogin'}}
    responses:
      200:
        description: Signed in.
        content: {application/json: {schema: {$ref: '#/components/schemas/Tokens'}}}
      400: {description: "invalid_request, invalid_passkey"}
      401: {description: invalid_client}
      403:
        description: "passkey_cloned (the counter went back; audited), user_disabled,
          user_not_confirmed, new_password_required"
      429: {description: too_many_requests}
    """
    body = await read_body(request, allow_form=False)
    tokens = await services_of(request).passkeys.login(
        body.get("credential"), body.get("session"), body.get("client_id"), caller_of(request)
    )
    return JSONResponse(tokens.as_json(), headers=NO_STORE)


routes = [
    Route("/v1/me/passkeys/options", registration_options, methods=["POST"]),
    Route("/v1/me/passkeys", register, methods=["POST"]),
    Route("/v1/me/passkeys", list_passkeys, methods=["GET"]),
    Route("/v1/me/passkeys/{passkey_id}", rename, methods=["PATCH"]),
    Route("/v1/me/passkeys/{passkey_id}", remove, methods=["DELETE"]),
    Route("/v1/passkeys/login/options", login_options, methods=["POST"]),
    Route("/v1/passkeys/login", login, methods=["POST"]),
]
