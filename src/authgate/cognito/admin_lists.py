"""ListUsers (with Cognito's Filter), DescribeUserPool and the app-client listings.

ListUsers' filter is parsed by `list_filter` and matched in SQL by the store; the
Cognito-only fields (`cognito:user_status`, `status`) become authgate's status and
enabled flag here, the only place that knows both vocabularies.
"""

from __future__ import annotations

from typing import Any

from authgate.clients.registry import Client
from authgate.cognito.admin_shapes import USER_STATUS, pool_of, user_type
from authgate.cognito.call import Call
from authgate.cognito.errors import CognitoError, invalid_parameter
from authgate.cognito.list_filter import FilterError, UserFilter, parse_filter
from authgate.cognito.pages import MAX_PAGE, limit_of, next_token, page_cursor
from authgate.cognito.params import CLIENT_ID, Shape
from authgate.errors import NotFound
from authgate.identity.attributes import STANDARD_ATTRIBUTES
from authgate.store.users import FieldMatch

FILTER = Shape(0, 256)


def _store_filters(found: UserFilter) -> dict[str, Any] | None:
    """`UserAdmin.list_users` keywords for the filter; None when nothing can match."""
    value = found.value
    if found.attribute in ("cognito:user_status", "status"):
        names = (
            {USER_STATUS[s]: s for s in USER_STATUS}
            if found.attribute == "cognito:user_status"
            else {"Enabled": True, "Disabled": False}
        )
        hits = [
            own
            for name, own in names.items()
            if (name.startswith(value) if found.prefix else name == value)
        ]
        if not hits:
            return None
        if len(hits) == len(names):
            return {}
        key = "status" if found.attribute == "cognito:user_status" else "enabled"
        return {key: hits[0]} if len(hits) == 1 else None
    field = found.attribute
    if field in ("username", "email"):
        value = value.casefold()  # both are stored lower-cased
    return {"match": FieldMatch(field, value, found.prefix)}


async def list_users(call: Call) -> dict[str, Any]:
    pool_of(call)
    text = call.params.optional_text("Filter", FILTER) or ""
    try:
        found = parse_filter(text)
    except FilterError as exc:
        raise invalid_parameter(str(exc)) from None
    wanted = call.params.names("AttributesToGet") if call.params.has("AttributesToGet") else None
    limit = limit_of(call, "Limit")
    cursor = page_cursor(call, "PaginationToken", text)
    filters = _store_filters(found) if found is not None else {}
    if filters is None:
        return {"Users": []}
    page = await call.services.admin.list_users(cursor, limit, **filters)
    answer: dict[str, Any] = {"Users": [user_type(u, wanted) for u in page.items]}
    if page.next:
        answer["PaginationToken"] = next_token(call, page.next, text)
    return answer


async def describe_user_pool(call: Call) -> dict[str, Any]:
    pool_id = pool_of(call)
    settings = call.services.settings
    policy = settings.passwords
    async with call.services.store.read() as tx:
        count = await tx.users.count()
    region = call.settings.region
    return {
        "UserPool": {
            "Id": pool_id,
            "Name": settings.user_pool.name,
            "Arn": f"arn:aws:cognito-idp:{region}:000000000000:userpool/{pool_id}",
            "Policies": {
                "PasswordPolicy": {
                    "MinimumLength": policy.min_length,
                    "RequireUppercase": policy.require_uppercase,
                    "RequireLowercase": policy.require_lowercase,
                    "RequireNumbers": policy.require_digit,
                    "RequireSymbols": policy.require_symbol,
                }
            },
            "LambdaConfig": {},
            "AutoVerifiedAttributes": ["email"],
            "UsernameConfiguration": {"CaseSensitive": False},
            "MfaConfiguration": "OPTIONAL",
            "EstimatedNumberOfUsers": count,
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
            "SchemaAttributes": _schema(call),
        }
    }


def _schema(call: Call) -> list[dict[str, Any]]:
    types = {"string": "String", "number": "Number", "boolean": "Boolean"}
    schema: list[dict[str, Any]] = [
        {"Name": "sub", "AttributeDataType": "String", "Mutable": False, "Required": True},
        {"Name": "email", "AttributeDataType": "String", "Mutable": True, "Required": True},
        {
            "Name": "email_verified",
            "AttributeDataType": "Boolean",
            "Mutable": True,
            "Required": False,
        },
    ]
    required = set(call.services.settings.user_pool.required_attributes)
    for name, kind in STANDARD_ATTRIBUTES.items():
        schema.append(
            {
                "Name": name,
                "AttributeDataType": types[kind],
                "Mutable": True,
                "Required": name in required,
            }
        )
    for name, declared in call.services.settings.user_pool.custom_attributes.items():
        schema.append(
            {
                "Name": f"custom:{name}",
                "AttributeDataType": types.get(declared.type, "String"),
                "Mutable": declared.mutable,
                "Required": declared.required,
            }
        )
    return schema


def _rotation(client: Client, reuse_interval: float) -> dict[str, Any]:
    """Cognito's RefreshTokenRotation; the grace period is authgate's reuse interval (one
    setting for every client), as Cognito caps it at 60 seconds."""
    if not client.metadata.refresh_token_rotation:
        return {"Feature": "DISABLED"}
    return {"Feature": "ENABLED", "RetryGracePeriodSeconds": min(60, int(reuse_interval))}


def _client_type(
    client: Client, pool_id: str, prevent_errors: bool, reuse_interval: float
) -> dict[str, Any]:
    meta = client.metadata
    flows = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    if client.allows("password"):
        flows += ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"]
    return {
        "UserPoolId": pool_id,
        "ClientName": meta.client_name or client.client_id,
        "ClientId": client.client_id,
        "CreationDate": client.created_at,
        "LastModifiedDate": client.updated_at,
        "ExplicitAuthFlows": flows,
        "AllowedOAuthFlows": ["code"] if "authorization_code" in meta.grant_types else [],
        "AllowedOAuthScopes": meta.scope.split(),
        "CallbackURLs": list(meta.redirect_uris),
        "LogoutURLs": list(meta.post_logout_redirect_uris),
        "PreventUserExistenceErrors": "ENABLED" if prevent_errors else "LEGACY",
        "RefreshTokenRotation": _rotation(client, reuse_interval),
    }


async def describe_user_pool_client(call: Call) -> dict[str, Any]:
    pool_id = pool_of(call)
    client_id = call.params.text("ClientId", CLIENT_ID)
    try:
        client = await call.services.clients.get(client_id)
    except NotFound:
        raise CognitoError(
            "ResourceNotFoundException", f"User pool client {client_id} does not exist."
        ) from None
    prevent = call.settings.prevent_user_existence_errors
    reuse = call.services.settings.tokens.refresh_reuse_interval
    return {"UserPoolClient": _client_type(client, pool_id, prevent, reuse)}


async def list_user_pool_clients(call: Call) -> dict[str, Any]:
    pool_id = pool_of(call)
    limit = call.params.integer("MaxResults", 1, MAX_PAGE) or MAX_PAGE
    cursor = page_cursor(call, "NextToken", "clients")
    page = await call.services.clients.list(cursor, limit)
    answer: dict[str, Any] = {
        "UserPoolClients": [
            {
                "ClientId": c.client_id,
                "UserPoolId": pool_id,
                "ClientName": c.metadata.client_name or c.client_id,
            }
            for c in page.items
        ]
    }
    if page.next:
        answer["NextToken"] = next_token(call, page.next, "clients")
    return answer
