"""The TOTP second factor over the public API: the login challenge and self-service.

`POST /v1/login` answers a challenge instead of tokens when a second factor is due
(`identity/challenges.py`); the routes here answer it. `/v1/me/mfa/*` enrol, turn off
and renew a factor for the signed-in user, each after the password (re-authentication).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.api.requests import (
    NO_STORE,
    caller_of,
    field,
    read_body,
    services_of,
    signed_in_user,
)
from authgate.bootstrap import Services
from authgate.store.records import UserRecord


async def _self_service(request: Request) -> tuple[Services, UserRecord, dict[str, Any]]:
    """The services, the signed-in user (MFA must be on in the pool), and the JSON body."""
    services = services_of(request)
    user = await signed_in_user(request)
    services.mfa.ensure_on()
    return services, user, await read_body(request, allow_form=False)


async def login_mfa(request: Request) -> Response:
    """
    summary: Finish a sign-in with a TOTP code or a recovery code.
    description: >-
      The session is the one `POST /v1/login` answered with `challenge: totp`. It lives 180
      seconds, is spent by the sign-in it completes, and ends after 5 wrong codes; every
      wrong code also counts in the user's failed-login lockout, like a wrong password.
      A code is accepted once (a replay within its 30-second window is refused).
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/MfaAnswer'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/MfaAnswer'}}
    responses:
      200:
        description: Signed in; the tokens carry amr ["pwd","otp"] (or ["pwd","mfa"]).
        content: {application/json: {schema: {$ref: '#/components/schemas/Tokens'}}}
      400: {description: "invalid_request, invalid_code"}
      401: {description: "invalid_session (unknown, expired, spent or ended), invalid_client"}
      403: {description: "user_disabled"}
      404: {description: "not_found: the client of the sign-in is gone"}
      429: {description: too_many_requests}
    """
    services = services_of(request)
    body = await read_body(request)
    session = field(body, "session")
    code, recovery = body.get("code"), body.get("recovery_code")
    if code is None and recovery is None:
        field(body, "code")
    caller = caller_of(request)
    completed = await services.mfa_login.answer(session, caller, code=code, recovery_code=recovery)
    tokens = await services.login_flow.issue_tokens(completed, caller)
    return JSONResponse(tokens.as_json(), headers=NO_STORE)


async def login_mfa_setup(request: Request) -> Response:
    """
    summary: Start enrolling a TOTP authenticator during a sign-in that requires one.
    description: >-
      Only for a session `POST /v1/login` answered with `challenge: mfa_setup` (the pool
      requires MFA and the user has no factor). Asking again replaces the pending secret.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/MfaSession'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/MfaSession'}}
    responses:
      200:
        description: The secret to add to an authenticator app.
        content: {application/json: {schema: {$ref: '#/components/schemas/TotpEnrolment'}}}
      400: {description: invalid_request}
      401: {description: invalid_session}
      403: {description: mfa_disabled}
    """
    services = services_of(request)
    body = await read_body(request)
    enrolment = await services.mfa_login.setup(field(body, "session"), caller_of(request))
    return JSONResponse(enrolment.as_json(), headers=NO_STORE)


async def login_mfa_setup_verify(request: Request) -> Response:
    """
    summary: Turn the new authenticator on with its first code and finish the sign-in.
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/MfaSetupAnswer'}}
        application/x-www-form-urlencoded: {schema: {$ref: '#/components/schemas/MfaSetupAnswer'}}
    responses:
      200:
        description: Signed in (amr ["pwd","otp"]), with the recovery codes, shown once.
        content: {application/json: {schema: {$ref: '#/components/schemas/TokensWithRecovery'}}}
      400: {description: "invalid_request, invalid_code"}
      401: {description: "invalid_session, invalid_client"}
      403: {description: "mfa_disabled, user_disabled"}
      404: {description: "not_found: the client of the sign-in is gone"}
      409: {description: "no_pending_enrolment: call /v1/login/mfa/setup first"}
      429: {description: too_many_requests}
    """
    services = services_of(request)
    body = await read_body(request)
    caller = caller_of(request)
    completed, codes = await services.mfa_login.setup_verify(
        field(body, "session"), field(body, "code"), caller
    )
    tokens = await services.login_flow.issue_tokens(completed, caller)
    return JSONResponse({**tokens.as_json(), "recovery_codes": codes}, headers=NO_STORE)


async def enrol_totp(request: Request) -> Response:
    """
    summary: Start enrolling a TOTP authenticator; needs the password.
    description: >-
      The secret stays pending until `POST /v1/me/mfa/totp/verify`; asking again replaces
      the pending secret. Replacing an enabled authenticator also needs one of its codes
      (or a recovery code) in `code`. `qr_svg` is an SVG QR code of `otpauth_uri`, safe
      to inline in a page.
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/MfaReauth'}}
    responses:
      200:
        description: The secret to add to an authenticator app.
        content: {application/json: {schema: {$ref: '#/components/schemas/TotpEnrolment'}}}
      400: {description: "invalid_request, invalid_code"}
      401: {description: "invalid_token, invalid_credentials"}
      403: {description: "mfa_disabled, user_disabled"}
      429: {description: too_many_requests}
    """
    services, user, body = await _self_service(request)
    enrolment = await services.mfa.enrol(
        user,
        caller_of(request),
        check_password=services.users.check_password,
        password=field(body, "password"),
        code=body.get("code"),
    )
    return JSONResponse(enrolment.as_json(), headers=NO_STORE)


async def verify_totp(request: Request) -> Response:
    """
    summary: Turn the pending authenticator on with its first code.
    description: The answer holds 10 recovery codes, shown this once; earlier ones stop working.
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/TotpCode'}}
    responses:
      200:
        description: MFA is on.
        content: {application/json: {schema: {$ref: '#/components/schemas/RecoveryCodes'}}}
      400: {description: "invalid_request, invalid_code"}
      401: {description: invalid_token}
      403: {description: "mfa_disabled, user_disabled"}
      409: {description: "no_pending_enrolment"}
      429: {description: too_many_requests}
    """
    services, user, body = await _self_service(request)
    codes = await services.mfa.finish_enrolment(user, field(body, "code"), caller_of(request))
    return JSONResponse({"recovery_codes": codes}, headers=NO_STORE)


async def disable_totp(request: Request) -> Response:
    """
    summary: Turn the TOTP authenticator off; needs the password and a code.
    description: >-
      `code` is a code from the authenticator or one of the recovery codes (so a lost phone
      with a recovery code at hand can still turn it off). Every recovery code goes too.
      Refused while the pool requires MFA (enrol a new authenticator instead).
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/MfaReauthWithCode'}}
    responses:
      204: {description: MFA is off.}
      400: {description: "invalid_request, invalid_code"}
      401: {description: "invalid_token, invalid_credentials"}
      403: {description: "mfa_disabled, user_disabled"}
      409: {description: "mfa_required (the pool requires MFA), mfa_not_enabled"}
      429: {description: too_many_requests}
    """
    services, user, body = await _self_service(request)
    await services.mfa.disable(
        user,
        field(body, "code"),
        caller_of(request),
        check_password=services.users.check_password,
        password=field(body, "password"),
    )
    return Response(status_code=204, headers=NO_STORE)


async def regenerate_recovery_codes(request: Request) -> Response:
    """
    summary: A fresh set of 10 recovery codes; every earlier one stops working.
    description: Needs the password and a code (from the authenticator, or a recovery code).
    security: [{bearer: []}]
    requestBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/MfaReauthWithCode'}}
    responses:
      200:
        description: The new codes, shown this once.
        content: {application/json: {schema: {$ref: '#/components/schemas/RecoveryCodes'}}}
      400: {description: "invalid_request, invalid_code"}
      401: {description: "invalid_token, invalid_credentials"}
      403: {description: "mfa_disabled, user_disabled"}
      409: {description: "mfa_not_enabled"}
      429: {description: too_many_requests}
    """
    services, user, body = await _self_service(request)
    codes = await services.mfa.regenerate(
        user,
        field(body, "code"),
        caller_of(request),
        check_password=services.users.check_password,
        password=field(body, "password"),
    )
    return JSONResponse({"recovery_codes": codes}, headers=NO_STORE)


async def mfa_status(services: Services, user: UserRecord) -> dict[str, Any]:
    """The `mfa` part of the user's profile."""
    return (await services.mfa.status(user.sub)).as_json()


routes = [
    Route("/v1/login/mfa", login_mfa, methods=["POST"]),
    Route("/v1/login/mfa/setup", login_mfa_setup, methods=["POST"]),
    Route("/v1/login/mfa/setup/verify", login_mfa_setup_verify, methods=["POST"]),
    Route("/v1/me/mfa/totp", enrol_totp, methods=["POST"]),
    Route("/v1/me/mfa/totp", disable_totp, methods=["DELETE"]),
    Route("/v1/me/mfa/totp/verify", verify_totp, methods=["POST"]),
    Route("/v1/me/mfa/recovery-codes", regenerate_recovery_codes, methods=["POST"]),
]
