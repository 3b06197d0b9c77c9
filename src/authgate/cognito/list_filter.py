"""Cognito's ListUsers `Filter`: `attribute = "value"` (exact) or `attribute ^= "value"` (prefix).

The parsed filter names one of the attributes Cognito lets you search on; the store does
the matching in SQL, so a filter never loads the pool into memory. An empty filter lists
everyone. Anything else is refused here, before a query is built.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_FILTER_LENGTH = 256  # Cognito's own limit on the Filter string

SEARCHABLE = (
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
)
"""The attributes Cognito's ListUsers can filter on (its documented list)."""


class FilterError(ValueError):
    """A Filter string that is not `attribute op "value"` on a searchable attribute."""


@dataclass(frozen=True)
class UserFilter:
    attribute: str
    prefix: bool
    value: str


def parse_filter(text: str) -> UserFilter | None:
    """The filter `text` states, None for an empty one, `FilterError` for anything else."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"Filter must be at most {MAX_FILTER_LENGTH} characters.")
    stripped = text.strip()
    if not stripped:
        return None
    index = 0
    while index < len(stripped) and stripped[index] not in ' \t=^"':
        index += 1
    attribute = stripped[:index]
    if attribute not in SEARCHABLE:
        raise FilterError(f"Invalid search attribute: '{attribute}'.")
    rest = stripped[index:].lstrip(" \t")
    if rest.startswith("^="):
        prefix, rest = True, rest[2:]
    elif rest.startswith("="):
        prefix, rest = False, rest[1:]
    else:
        raise FilterError('Filter must be attribute = "value" or attribute ^= "value".')
    value = _quoted(rest.lstrip(" \t"))
    return UserFilter(attribute, prefix, value)


def _quoted(text: str) -> str:
    """The content of a double-quoted string that is all of `text`; `\\"` and `\\\\` escape."""
    if len(text) < 2 or text[0] != '"':
        raise FilterError("The filter value must be in double quotes.")
    out: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in '"\\':
            out.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            if index != len(text) - 1:
                raise FilterError("Nothing may follow the quoted filter value.")
            return "".join(out)
        out.append(char)
        index += 1
    raise FilterError("The filter value's closing quote is missing.")


def quote_value(value: str) -> str:
    """`value` written as a Filter string's quoted value (the inverse of the parser)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
