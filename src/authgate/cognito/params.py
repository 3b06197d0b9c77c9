"""Reading a Cognito request's members: types, lengths and patterns as Cognito's API
reference gives them, refused with InvalidParameterException in Cognito's own wording.

Handlers ask for what they need (`params.text("ClientId", CLIENT_ID)`) and get a value of
the right type or an error; members they do not ask for are ignored, as AWS ignores
members it does not know. Values are never echoed in messages (they may be passwords).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from authgate.cognito.errors import invalid_parameter

_NAME_CHARS = r"[^\s\x00-\x1f\x7f-\x9f]+"
"""Cognito's [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+: letters, marks, symbols, numbers and
punctuation; that is, no separator and no control character."""


@dataclass(frozen=True)
class Shape:
    """A string member's constraints (lengths in characters, as Cognito counts them)."""

    min_length: int = 1
    max_length: int | None = None
    pattern: str | None = None

    def problem(self, value: str) -> str | None:
        if len(value) < self.min_length:
            return f"Member must have length greater than or equal to {self.min_length}"
        if self.max_length is not None and len(value) > self.max_length:
            return f"Member must have length less than or equal to {self.max_length}"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"Member must satisfy regular expression pattern: {self.pattern}"
        return None


CLIENT_ID = Shape(1, 128, r"[\w+]+")
CLIENT_SECRET = Shape(1, 128, r"[\w+=/-]+")  # Cognito: [\w+]+, 64; ours are base64url
USERNAME = Shape(1, 128, _NAME_CHARS)
PASSWORD = Shape(1, 256, r"\S(.*\S)?")  # Cognito: ^[\S]+.*[\S]+$
SECRET_HASH = Shape(1, 128, r"[\w+=/]+")
CODE = Shape(1, 2048, r"[\S]+")
TOKEN = Shape(1, 16384, r"[A-Za-z0-9-_=.]+")
SESSION = Shape(20, 2048)
ATTRIBUTE_NAME = Shape(1, 32, _NAME_CHARS)
ATTRIBUTE_VALUE = Shape(0, 2048)
FREE_TEXT = Shape(0, 2048)
MAX_MAP_ENTRIES = 100
MAX_LIST_ENTRIES = 100


def _where(name: str) -> str:
    """Cognito names members lowerCamel in its validation messages."""
    return name[:1].lower() + name[1:]


def _fail(name: str, constraint: str) -> Exception:
    return invalid_parameter(
        f"1 validation error detected: Value at '{_where(name)}' failed to satisfy "
        f"constraint: {constraint}"
    )


class Params:
    """The members of one request body (a JSON object)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body

    def has(self, name: str) -> bool:
        return self._body.get(name) is not None

    def text(self, name: str, shape: Shape = FREE_TEXT) -> str:
        """A required string member."""
        value = self.optional_text(name, shape)
        if value is None:
            raise _fail(name, "Member must not be null")
        return value

    def optional_text(self, name: str, shape: Shape = FREE_TEXT) -> str | None:
        value = self._body.get(name)
        if value is None:
            return None
        return _checked_text(name, value, shape)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._body.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _fail(name, "Member must be a boolean")
        return value

    def integer(self, name: str, low: int, high: int) -> int | None:
        value = self._body.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(name, "Member must be an integer")
        if not low <= value <= high:
            raise _fail(name, f"Member must be between {low} and {high}")
        return value

    def string_map(
        self, name: str, key: Shape = FREE_TEXT, value: Shape = FREE_TEXT
    ) -> dict[str, str]:
        """A map of strings (AuthParameters, ClientMetadata); absent reads as empty."""
        found = self._body.get(name)
        if found is None:
            return {}
        if not isinstance(found, dict):
            raise _fail(name, "Member must be a map of strings")
        if len(found) > MAX_MAP_ENTRIES:
            raise _fail(name, f"Member must have at most {MAX_MAP_ENTRIES} entries")
        for k, v in found.items():
            _checked_text(name, k, key)
            _checked_text(f"{name}.{k}", v, value)
        return dict(found)

    def attributes(self, name: str, *, required: bool = False) -> dict[str, str]:
        """A list of {Name, Value} (UserAttributes, ValidationData), as an ordered map; a
        name given twice is refused."""
        found = self._body.get(name)
        if found is None:
            if required:
                raise _fail(name, "Member must not be null")
            return {}
        if not isinstance(found, list):
            raise _fail(name, "Member must be a list of attributes")
        if len(found) > MAX_LIST_ENTRIES:
            raise _fail(name, f"Member must have at most {MAX_LIST_ENTRIES} entries")
        pairs: dict[str, str] = {}
        for index, item in enumerate(found):
            where = f"{name}.{index + 1}"
            if not isinstance(item, dict):
                raise _fail(where, "Member must be an attribute {Name, Value}")
            attribute = _checked_text(f"{where}.Name", item.get("Name"), ATTRIBUTE_NAME)
            value = item.get("Value")
            text = "" if value is None else _checked_text(f"{where}.Value", value, ATTRIBUTE_VALUE)
            if attribute in pairs:
                raise invalid_parameter(f"Duplicate attribute name: {attribute}")
            pairs[attribute] = text
        return pairs

    def flags(self, name: str, keys: tuple[str, ...]) -> dict[str, bool] | None:
        """An optional object of booleans (SoftwareTokenMfaSettings: Enabled, PreferredMfa);
        keys outside `keys` are ignored, as AWS ignores members it does not know."""
        found = self._body.get(name)
        if found is None:
            return None
        if not isinstance(found, dict):
            raise _fail(name, "Member must be an object")
        flags: dict[str, bool] = {}
        for key in keys:
            value = found.get(key)
            if value is not None and not isinstance(value, bool):
                raise _fail(f"{name}.{key}", "Member must be a boolean")
            flags[key] = bool(value)
        return flags

    def names(self, name: str, shape: Shape = ATTRIBUTE_NAME) -> list[str]:
        """A required list of strings (AttributeNames)."""
        found = self._body.get(name)
        if not isinstance(found, list):
            raise _fail(name, "Member must be a list of strings")
        if len(found) > MAX_LIST_ENTRIES:
            raise _fail(name, f"Member must have at most {MAX_LIST_ENTRIES} entries")
        return [_checked_text(f"{name}.{i + 1}", item, shape) for i, item in enumerate(found)]


def _checked_text(name: str, value: object, shape: Shape) -> str:
    if value is None:
        raise _fail(name, "Member must not be null")
    if not isinstance(value, str):
        raise _fail(name, "Member must be a string")
    problem = shape.problem(value)
    if problem is not None:
        raise _fail(name, problem)
    return value
