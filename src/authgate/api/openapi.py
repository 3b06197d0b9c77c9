"""The OpenAPI documents of both listeners: every body, parameter and error answer described.

The public document comes from the endpoints' docstrings (Starlette's SchemaGenerator),
which name their bodies by `$ref` to the schemas here; the admin document comes from
FastAPI. Both are then finished the same way: the bearer scheme, the error body on every
error answer, 413 on every operation that takes a body, so that a generated client or a
fuzzer can use every operation as documented.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import BaseRoute
from starlette.schemas import SchemaGenerator

BEARER = {"type": "http", "scheme": "bearer"}
_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"

ERROR: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer of authgate's own API (OAuth endpoints: OAuthError).",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "Machine-readable code."},
        "message": {"type": "string"},
        "field": {"type": "string", "description": "The request field at fault."},
        "attribute": {"type": "string", "description": "The attribute at fault."},
        "rules": {"type": "array", "items": {"type": "string"}},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
}
OAUTH_ERROR: dict[str, Any] = {
    "type": "object",
    "description": "RFC 6749 5.2 error answer.",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _object(required: Sequence[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


_NULLABLE_TEXT = {"type": "string", "nullable": True}
_ATTRIBUTES = {
    "type": "object",
    "description": "Standard OIDC claims and declared `custom:*` attributes; null removes one.",
    "additionalProperties": True,
}
_TIMESTAMP = {"type": "integer", "description": "Seconds since the epoch."}
_CHALLENGES = ["totp", "mfa_setup"]

PUBLIC_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": ERROR,
    "OAuthError": OAUTH_ERROR,
    "Signup": _object(
        ["email", "password"],
        email=_text("The account's email address."),
        password=_text("Checked against the password policy."),
        username=_text("Optional; the email is the username otherwise."),
        attributes=_ATTRIBUTES,
        client_metadata={
            "type": "object",
            "description": "Optional strings handed to the lifecycle hooks as they are.",
            "additionalProperties": {"type": "string"},
        },
    ),
    "ConfirmSignup": _object(
        ["username", "code"], username=_text("Username or email."), code=_text("Mailed code.")
    ),
    "Username": _object(["username"], username=_text("Username or email.")),
    "Login": _object(
        ["username", "password"],
        username=_text("Username or email."),
        password=_text("The password."),
        client_id=_text("The client signing in (default: the pool's own)."),
        secret_hash=_text("Cognito's SECRET_HASH, for a confidential client."),
        new_password=_text("Needed when the answer was new_password_required."),
    ),
    "RefreshToken": _object(["refresh_token"], refresh_token=_text("A refresh token.")),
    "ResetPassword": _object(
        ["username", "code", "new_password"],
        username=_text("Username or email."),
        code=_text("Mailed reset code."),
        new_password=_text("Checked against the password policy."),
    ),
    "ProfileChanges": {
        "type": "object",
        "description": "Attributes to change, flat or under `attributes`; `email` starts a "
        "change of address (verified with the mailed code).",
        "properties": {"email": _text("A new address."), "attributes": _ATTRIBUTES},
        "additionalProperties": True,
    },
    "DeleteAccount": _object(["password"], password=_text("The current password.")),
    "ChangePassword": _object(
        ["current_password", "new_password"],
        current_password=_text("The current password."),
        new_password=_text("Checked against the password policy."),
    ),
    "Code": _object(["code"], code=_text("The mailed code.")),
    "DecisionQuestion": {
        "type": "object",
        "description": "Exactly one of subject and token. Names hold no control characters.",
        "required": ["action", "resource"],
        "additionalProperties": False,
        "properties": {
            "subject": _text("A subject (user sub, client id, group:<name>).", minLength=1),
            "token": _text("An access token; its subject, client and groups decide.", minLength=1),
            "action": _text("The action.", minLength=1, maxLength=4096),
            "resource": _text("The resource.", minLength=1, maxLength=4096),
            "context": {"type": "object", "additionalProperties": True},
        },
    },
    "Decision": _object(
        ["allowed", "subject", "reason"],
        allowed={"type": "boolean"},
        subject=_NULLABLE_TEXT,
        reason=_text("The deciding policy id, no_match, or invalid_token."),
    ),
    "Profile": _object(
        ["sub", "username", "email", "email_verified", "status", "groups", "attributes"],
        sub=_text("The user's stable id."),
        username=_text("The username."),
        email=_text("The email address."),
        email_verified={"type": "boolean"},
        pending_email=_NULLABLE_TEXT,
        status=_text("The account's status."),
        groups={"type": "array", "items": {"type": "string"}},
        attributes=_ATTRIBUTES,
        created_at=_TIMESTAMP,
        updated_at=_TIMESTAMP,
        mfa=_object(
            ["totp", "recovery_codes_left"],
            totp={"type": "boolean", "description": "A TOTP authenticator is on."},
            recovery_codes_left={"type": "integer"},
        ),
        identity_providers={
            "type": "array",
            "description": "The external identity providers linked to the account.",
            "items": _object(
                ["name", "subject", "linked_at"],
                name=_text("The provider's name in identity_providers."),
                subject=_text("The user's subject (sub) at the provider."),
                linked_at=_TIMESTAMP,
            ),
        },
    ),
    "Tokens": _object(
        ["access_token", "token_type", "expires_in"],
        access_token=_text("A JWT access token."),
        id_token=_text("An OIDC id token."),
        refresh_token=_text("Spent on use; left out of a refresh for a client without rotation."),
        token_type=_text("Bearer."),
        expires_in={"type": "integer"},
    ),
    # -- MFA -----------------------------------------------------------------------------
    "MfaChallenge": _object(
        ["challenge", "session", "expires_in"],
        challenge=_text("totp: answer with a code; mfa_setup: enrol first.", enum=_CHALLENGES),
        session=_text("Pass to /v1/login/mfa (or /v1/login/mfa/setup...); single use."),
        expires_in={"type": "integer", "description": "Seconds the session lives."},
    ),
    "MfaSession": _object(["session"], session=_text("The challenge session.")),
    "MfaAnswer": _object(
        ["session"],
        session=_text("The challenge session."),
        code=_text("A code from the authenticator app (6 digits) or a recovery code."),
        recovery_code=_text("A recovery code (instead of code)."),
    ),
    "MfaSetupAnswer": _object(
        ["session", "code"],
        session=_text("The mfa_setup challenge session."),
        code=_text("The first code of the new authenticator."),
    ),
    "TotpEnrolment": _object(
        ["secret", "otpauth_uri", "qr_svg"],
        secret=_text("Base32 secret, to type into an authenticator app."),
        otpauth_uri=_text("otpauth://totp/... URI (Key Uri Format)."),
        qr_svg=_text("An SVG QR code of otpauth_uri, safe to inline."),
    ),
    "TotpCode": _object(["code"], code=_text("A code from the authenticator app.")),
    "MfaReauth": _object(
        ["password"],
        password=_text("The current password."),
        code=_text("Replacing an enabled authenticator: one of its codes or a recovery code."),
    ),
    "MfaReauthWithCode": _object(
        ["password", "code"],
        password=_text("The current password."),
        code=_text("A code from the authenticator app, or a recovery code."),
    ),
    "RecoveryCodes": _object(
        ["recovery_codes"],
        recovery_codes={"type": "array", "items": {"type": "string"}, "minItems": 10},
    ),
    "TokensWithRecovery": _object(
        ["access_token", "token_type", "expires_in", "recovery_codes"],
        access_token=_text("A JWT access token."),
        id_token=_text("An OIDC id token."),
        refresh_token=_text("Spent on use; left out of a refresh for a client without rotation."),
        token_type=_text("Bearer."),
        expires_in={"type": "integer"},
        recovery_codes={"type": "array", "items": {"type": "string"}},
    ),
    "Consents": _object(
        ["items"],
        items={
            "type": "array",
            "items": _object(
                ["client_id", "scope", "granted_at"],
                client_id=_text("The client."),
                client_name=_NULLABLE_TEXT,
                scope=_text("The scopes allowed, space-separated."),
                granted_at=_TIMESTAMP,
            ),
        },
    ),
    "Sessions": _object(
        ["items"],
        items={
            "type": "array",
            "items": _object(
                ["id", "created_at", "last_used_at", "current"],
                id=_text("The session's public id (not its cookie)."),
                created_at=_TIMESTAMP,
                last_used_at=_TIMESTAMP,
                ip=_NULLABLE_TEXT,
                user_agent=_NULLABLE_TEXT,
                current={"type": "boolean"},
            ),
        },
    ),
}
_CREDENTIAL = {
    "type": "object",
    "description": "A PublicKeyCredential in its WebAuthn JSON form (toJSON(): base64url).",
    "additionalProperties": True,
}
PUBLIC_SCHEMAS.update(
    {
        "PasskeyReauth": _object(["password"], password=_text("The current password.")),
        "PasskeyRegistration": _object(
            ["credential"],
            credential=_CREDENTIAL,
            name=_text("A label for the passkey (default: Passkey).", maxLength=64),
        ),
        "PasskeyName": _object(["name"], name=_text("A label for the passkey.", maxLength=64)),
        "Passkey": _object(
            ["id", "name", "created_at"],
            id=_text("The passkey's id."),
            name=_text("Its label."),
            created_at=_TIMESTAMP,
            last_used_at={**_TIMESTAMP, "nullable": True},
            device_type=_text("single_device or multi_device (synced)."),
            backed_up={"type": "boolean"},
            transports={"type": "array", "items": {"type": "string"}},
        ),
        "PasskeyLoginStart": {
            "type": "object",
            "properties": {"username": _text("Optional: whose passkeys to offer.")},
        },
        "PasskeyLogin": _object(
            ["credential", "session"],
            credential=_CREDENTIAL,
            session=_text("The session of the options."),
            client_id=_text("A public client (default: the pool's own)."),
        ),
    }
)
_OWN_API = re.compile(r"^/(v1|authz)/")
# RFC 6749 5.2 bodies; userinfo answers errors in a WWW-Authenticate header and no body.
_OAUTH_JSON_ERRORS = re.compile(r"^/oauth2/(token|introspect|revoke)$")
_STATUS = re.compile(r"^[45]\d\d$")


def _error_content(path: str) -> dict[str, Any] | None:
    if _OWN_API.match(path):
        name = "Error"
    elif _OAUTH_JSON_ERRORS.match(path):
        name = "OAuthError"
    else:
        return None
    return {_JSON: {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _finish(schema: dict[str, Any], error_content: Callable[[str], dict[str, Any] | None]) -> None:
    """Bearer scheme; the error body on every error answer, and 413 where a body is taken,
    of the operations that answer errors in JSON."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = BEARER
    for path, operations in schema.get("paths", {}).items():
        content = error_content(path)
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if content and "requestBody" in operation:
                responses.setdefault("413", {"description": "body_too_large"})
            for status, response in responses.items():
                if content and _STATUS.match(str(status)) and "content" not in response:
                    response["content"] = content


def _parameters(location: str, names: Sequence[str]) -> list[dict[str, Any]]:
    return [{"name": n, "in": location, "schema": {"type": "string"}} for n in names]


def _form(names: Sequence[str]) -> dict[str, Any]:
    properties = {name: {"type": "string"} for name in names}
    return {"content": {_FORM: {"schema": {"type": "object", "properties": properties}}}}


# The browser endpoints take their protocol's parameters in the query (GET) or a form (POST).
_AUTHORIZE = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "prompt",
    "max_age",
    "login_hint",
)
_LOGOUT = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint")
PROTOCOL_PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    ("/oauth2/authorize", "get"): {"parameters": _parameters("query", _AUTHORIZE)},
    ("/oauth2/authorize", "post"): {"requestBody": _form(_AUTHORIZE)},
    ("/oauth2/logout", "get"): {"parameters": _parameters("query", _LOGOUT)},
    ("/oauth2/logout", "post"): {"requestBody": _form(_LOGOUT)},
}


class PublicSchemas(SchemaGenerator):
    """The public document: the docstrings' YAML, finished as described above."""

    def __init__(self) -> None:
        super().__init__(
            {
                "openapi": "3.0.3",
                "info": {"title": "authgate public API", "version": "1"},
                "components": {"schemas": PUBLIC_SCHEMAS},
            }
        )

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        schema = super().get_schema(routes)
        for (path, method), described in PROTOCOL_PARAMETERS.items():
            operation = schema.get("paths", {}).get(path, {}).get(method)
            if operation is not None:
                for key, value in described.items():
                    operation.setdefault(key, value)
        _finish(schema, _error_content)
        return schema


ADMIN_ERRORS = {
    "400": "invalid_request (with field), invalid_attribute, invalid_password (with rules), "
    "invalid_policy (with problems)",
    "401": "unauthorized: the admin token is missing or wrong",
    "404": "not_found",
    "409": "already_exists",
}
_WRITES = ("post", "put", "patch", "delete")


def finish_admin_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document, told the truth: every route needs the admin token; a body or a
    parameter FastAPI refuses is 400 invalid_request (not 422); the errors each may give."""
    schema.setdefault("security", [{"bearer": []}])
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            wanted = ["400", "401"]
            if operation.get("parameters") and any(
                p.get("in") == "path" for p in operation["parameters"]
            ):
                wanted.append("404")
            if method in _WRITES:
                wanted.append("409")
            for status in wanted:
                responses.setdefault(status, {"description": ADMIN_ERRORS[status]})
    _finish(schema, lambda path: {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}})
    return schema
