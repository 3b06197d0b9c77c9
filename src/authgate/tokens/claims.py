"""Which user claims a set of granted scopes releases (OIDC Core 5.4), for userinfo and
the ID token alike, so both answer the same question the same way."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from authgate.store.records import UserRecord

PROFILE_CLAIMS = (
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
)
EMAIL_CLAIMS = ("email", "email_verified")
PHONE_CLAIMS = ("phone_number", "phone_number_verified")


def user_claims(
    user: UserRecord, scopes: Collection[str], attribute_scopes: Mapping[str, list[str]]
) -> dict[str, Any]:
    """`sub`, plus what each granted scope releases; absent attributes are left out."""
    attributes = user.attributes
    claims: dict[str, Any] = {"sub": user.sub}
    if "profile" in scopes:
        claims.update({k: attributes[k] for k in PROFILE_CLAIMS if k in attributes})
        claims.setdefault("preferred_username", user.username)
        claims.setdefault("updated_at", int(user.updated_at))
    if "email" in scopes and user.email:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if "phone" in scopes and attributes.get("phone_number"):
        claims["phone_number"] = attributes["phone_number"]
        # The pool does not verify phone numbers (yet), so it never claims it did.
        claims["phone_number_verified"] = False
    for scope, names in attribute_scopes.items():
        if scope in scopes:
            claims.update({k: attributes[k] for k in names if k in attributes})
    return claims
