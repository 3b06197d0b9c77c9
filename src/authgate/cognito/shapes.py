"""Cognito's answer shapes built from authgate's records: attributes as Name/Value lists,
masked delivery destinations, AuthenticationResult."""

from __future__ import annotations

import re
from typing import Any

from authgate.cognito.errors import invalid_parameter
from authgate.identity.attributes import AttributeSchema
from authgate.store.records import UserRecord
from authgate.tokens.service import TokenSet

MANAGED = frozenset({"sub", "email_verified", "phone_number_verified"})
"""Attributes the pool keeps itself; a client cannot set them."""
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def text_of(value: object) -> str:
    """An attribute value as Cognito writes it: a string (booleans "true"/"false")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def user_attributes(user: UserRecord) -> list[dict[str, str]]:
    """The user's attributes as Cognito lists them: sub first, email and its state."""
    pairs: dict[str, object] = {"sub": user.sub}
    pairs.update(user.attributes)
    if user.email:
        pairs["email"] = user.email
        pairs["email_verified"] = user.email_verified
    if "phone_number" in user.attributes:
        pairs["phone_number_verified"] = False
    return [{"Name": name, "Value": text_of(value)} for name, value in pairs.items()]


def typed_attributes(schema: AttributeSchema, given: dict[str, str]) -> dict[str, Any]:
    """Cognito's string values as the pool's declared types (numbers, booleans); managed
    attributes are refused by name, like undeclared ones."""
    typed: dict[str, Any] = {}
    for name, value in given.items():
        if name in MANAGED:
            raise invalid_parameter(f"Cannot modify the non-mutable attribute {name}")
        kind = schema.kind_of(name)
        typed[name] = _typed(name, value, kind)
    return typed


def _typed(name: str, value: str, kind: str) -> Any:
    if kind == "string":
        return value
    if kind == "boolean":
        if value not in ("true", "false"):
            raise invalid_parameter(f"Attribute {name} must be true or false.")
        return value == "true"
    if not _NUMBER.fullmatch(value):
        raise invalid_parameter(f"Attribute {name} must be a number.")
    return float(value) if "." in value else int(value)


def masked(address: str) -> str:
    """Cognito's masked destination: `alice@example.com` -> `a***@e***`."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


def email_delivery(address: str) -> dict[str, str]:
    return {"Destination": masked(address), "DeliveryMedium": "EMAIL", "AttributeName": "email"}


def authentication_result(tokens: TokenSet, *, refresh: bool = True) -> dict[str, Any]:
    """Cognito's AuthenticationResult; a refresh for a client without rotation has no new
    RefreshToken, as Cognito answers."""
    result: dict[str, Any] = {
        "AccessToken": tokens.access_token,
        "ExpiresIn": tokens.expires_in,
        "TokenType": "Bearer",
        "IdToken": tokens.id_token,
    }
    if refresh and tokens.refresh_token is not None:
        result["RefreshToken"] = tokens.refresh_token
    return result
