"""Strict JSON for request bodies: RFC 8259 read as I-JSON (RFC 7493), bounded.

Python's `json` accepts what other parsers refuse: `NaN` and `Infinity`, numbers that
overflow to infinity (`1e999`), lone surrogate escapes (`"\\ud800"`) that no UTF-8 encoder
can write back out, and duplicate names (the last one wins, where a proxy in front may read
the first). Each lets one request store a value that breaks every later answer that shows
it, or makes two readers see two different requests. Every JSON body of both listeners is
read here, so all of them refuse the same things with 400 `invalid_request`.

NUL (`"\u0000"`) is refused too, though I-JSON allows it: PostgreSQL cannot store it in
text, so a name or description holding one answered 500 there.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from authgate.errors import InvalidRequest

MAX_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for name, value in pairs:
        if name in obj:
            raise InvalidRequest(f"The name {_shown(name)} appears twice in one object.")
        obj[name] = value
    return obj


def _no_constant(name: str) -> Any:
    raise InvalidRequest(f"{name} is not a JSON number.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidRequest("A number is too large to represent.")
    return value


def _shown(name: str) -> str:
    """A name for an error message: short, and printable whatever it holds."""
    return ascii(name[:64])


def _check_depth(text: str, limit: int) -> None:
    """Refuse nesting deeper than `limit` before the parser recurses into it (brackets
    inside strings do not count; an invalid document the parser refuses anyway)."""
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                raise InvalidRequest(f"The JSON is nested deeper than {limit} levels.")
        else:
            depth -= 1


def _check_text(value: Any) -> None:
    """Every name and string must be writable as UTF-8 (no lone surrogate) and storable
    (no NUL)."""
    if isinstance(value, str):
        if not _encodable(value):
            raise InvalidRequest("A string holds a lone surrogate (not Unicode text).")
        if "\x00" in value:
            raise InvalidRequest("A string holds a NUL character.")
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_text(name)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of a JSON text, or InvalidRequest saying what is wrong with it.

    The caller bounds the size of `raw` (it read the body); this bounds the depth.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The body is not valid UTF-8.") from None
    _check_depth(text, max_depth)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_names,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
    except (ValueError, RecursionError):
        raise InvalidRequest("The body is not valid JSON.") from None
    _check_text(value)
    return value


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object (the shape of every request body here); "" reads as `{}`."""
    value = parse_json(raw or b"{}")
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return value
