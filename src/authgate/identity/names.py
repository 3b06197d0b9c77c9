"""How usernames and email addresses are compared: one normal form for each."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from authgate.errors import InvalidRequest

MAX_USERNAME = 256


def normalize_username(value: object) -> str:
    """Usernames compare case-insensitively and by Unicode compatibility form."""
    if not isinstance(value, str):
        raise InvalidRequest("username must be a string.", field="username")
    name = unicodedata.normalize("NFKC", value).strip().casefold()
    if not name or len(name) > MAX_USERNAME or any(unicodedata.category(c)[0] == "C" for c in name):
        raise InvalidRequest("username is empty, too long or has control characters.")
    return name


def normalize_email(value: object) -> str:
    if not isinstance(value, str) or len(value) > 320:
        raise InvalidRequest("email must be an email address.", field="email")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidRequest("email is not a valid email address.", field="email") from None
    return str(checked.normalized).lower()
