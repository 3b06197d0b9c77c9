"""User attributes: the standard OIDC claims plus `custom:*` ones declared in configuration.

An undeclared or ill-typed attribute is refused by name, so a typo never lands silently.
`email`, `email_verified` and `sub` are managed by the pool itself, not set as attributes.

Every stored value must be writable back out as I-JSON (RFC 7493), whichever adapter it came
from: a lone surrogate, a NaN or an infinity once stored would break every later answer that
shows the user. Integers stay within what any JSON reader holds exactly (+-(2**53 - 1)), and
text holds no control character but tab, line feed and carriage return.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from authgate.config import AttributeDeclaration
from authgate.errors import InvalidAttribute

STANDARD_ATTRIBUTES: dict[str, str] = {
    "name": "string",
    "given_name": "string",
    "family_name": "string",
    "middle_name": "string",
    "nickname": "string",
    "preferred_username": "string",
    "profile": "string",
    "picture": "string",
    "website": "string",
    "gender": "string",
    "birthdate": "string",
    "zoneinfo": "string",
    "locale": "string",
    "phone_number": "string",
    "address": "string",
    "updated_at": "number",
}
MAX_STANDARD_LENGTH = 2048
MAX_EXACT_INTEGER = 2**53 - 1
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
}


class AttributeSchema:
    def __init__(
        self, custom: Mapping[str, AttributeDeclaration], required: Sequence[str] = ()
    ) -> None:
        self._custom = dict(custom)
        self._required = tuple(name for name in required if name != "email")

    def validate(
        self,
        values: Mapping[str, Any],
        *,
        current: Mapping[str, Any] | None = None,
        creating: bool,
    ) -> dict[str, Any]:
        """Return the merged attributes, or raise InvalidAttribute naming the first bad one."""
        merged = dict(current or {})
        for name, value in values.items():
            kind, max_length, mutable = self._declaration(name)
            if not creating and not mutable:
                raise InvalidAttribute(f"Attribute {name} cannot be changed.", attribute=name)
            if value is None:
                merged.pop(name, None)
                continue
            if (
                isinstance(value, bool)
                and kind != "boolean"
                or not isinstance(value, _PYTHON_TYPES[kind])
            ):
                raise InvalidAttribute(f"Attribute {name} must be a {kind}.", attribute=name)
            if isinstance(value, str) and len(value) > max_length:
                raise InvalidAttribute(f"Attribute {name} is too long.", attribute=name)
            problem = _unwritable(value)
            if problem:
                raise InvalidAttribute(f"Attribute {name} {problem}.", attribute=name)
            merged[name] = value
        for name in self._required if creating else ():
            if name not in merged:
                raise InvalidAttribute(
                    f"Attributes did not conform to the schema: {name}: The attribute is required",
                    attribute=name,
                )
        for name, declaration in self._custom.items():
            if declaration.required and f"custom:{name}" not in merged:
                raise InvalidAttribute(
                    f"Attribute custom:{name} is required.", attribute=f"custom:{name}"
                )
        return merged

    def missing_required(self, current: Mapping[str, Any]) -> list[str]:
        """The required attributes `current` lacks (NEW_PASSWORD_REQUIRED asks for them)."""
        names = [*self._required]
        names += [f"custom:{n}" for n, d in self._custom.items() if d.required]
        return [name for name in names if name not in current]

    def kind_of(self, name: str) -> str:
        """The declared type of an attribute ("string", "number", "boolean"), or
        InvalidAttribute when it is not declared."""
        return self._declaration(name)[0]

    def _declaration(self, name: str) -> tuple[str, int, bool]:
        if name in STANDARD_ATTRIBUTES:
            return STANDARD_ATTRIBUTES[name], MAX_STANDARD_LENGTH, True
        if name.startswith("custom:") and name[7:] in self._custom:
            declaration = self._custom[name[7:]]
            return declaration.type, declaration.max_length, declaration.mutable
        raise InvalidAttribute(f"Attribute {name} is not declared.", attribute=name)


def _unwritable(value: object) -> str | None:
    """Why `value` cannot be stored and shown again as I-JSON, or None when it can."""
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INTEGER:
        return f"must be within +-{MAX_EXACT_INTEGER}"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be Unicode text (it holds a lone surrogate)"
        if _CONTROL.search(value):
            return "must not contain control characters"
    return None
