"""Ladon's conditions: checks on one request-context field, named in a policy's `conditions`.

Each condition type reads its options once, when the policy is written (`from_options`), so
that a typo or an unknown type is refused there and can never turn into a silent allow; at
decision time `holds` only compares. A value of the wrong type never holds. Unknown option
names are refused too (Ladon ignores them), because a misspelt option would otherwise leave
the condition comparing against nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from authgate.policy.access import AccessRequest
from authgate.policy.patterns import MAX_PATTERN_LENGTH
from authgate.policy.regex import Regex, RegexError


class ConditionOptionsError(ValueError):
    """The options do not fit the condition type; the message says which and why."""


class Condition(Protocol):
    def holds(self, value: object, request: AccessRequest) -> bool: ...


class ConditionType(Protocol):
    """A condition class: its Ladon name, and how it reads its options."""

    @property
    def type_name(self) -> str: ...

    def from_options(self, options: Mapping[str, Any]) -> Condition: ...


def _only(options: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed)) or "none"
        raise ConditionOptionsError(f"unknown option(s) {unknown}; expected: {expected}")


def _string_option(options: Mapping[str, Any], name: str) -> str:
    _only(options, {name})
    value = options.get(name)
    if not isinstance(value, str):
        raise ConditionOptionsError(f"option {name!r} must be a string")
    return value


class StringEqualCondition:
    """Holds when the field is a string equal to `equals`."""

    type_name: ClassVar[str] = "StringEqualCondition"

    def __init__(self, equals: str) -> None:
        self.equals = equals

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> StringEqualCondition:
        return cls(_string_option(options, "equals"))

    def holds(self, value: object, request: AccessRequest) -> bool:
        return isinstance(value, str) and value == self.equals


class StringMatchCondition:
    """Holds when the field is a string in which the RE2 expression `matches` is found.

    Unanchored, as in Ladon (Go's MatchString): anchor with `^...$` for a whole match.
    `$` is the end of the text, as in Go (Python's `re` would also accept a final newline).
    """

    type_name: ClassVar[str] = "StringMatchCondition"

    def __init__(self, matches: str) -> None:
        if len(matches) > MAX_PATTERN_LENGTH:
            raise ConditionOptionsError(f"'matches' is longer than {MAX_PATTERN_LENGTH}")
        try:
            self.program = Regex(matches)
        except RegexError as exc:
            raise ConditionOptionsError(f"'matches': {exc}") from None
        self.matches = matches

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> StringMatchCondition:
        return cls(_string_option(options, "matches"))

    def holds(self, value: object, request: AccessRequest) -> bool:
        return isinstance(value, str) and self.program.search(value)


class CIDRCondition:
    """Holds when the field is an IP address inside the network `cidr` (v4 or v6).

    Host bits in `cidr` are allowed and ignored, as in Ladon; an IPv4-mapped IPv6 address
    counts as its IPv4 address.
    """

    type_name: ClassVar[str] = "CIDRCondition"

    def __init__(self, cidr: str) -> None:
        try:
            self.network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ConditionOptionsError(f"'cidr' is not a network: {cidr!r}") from None
        self.cidr = cidr

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CIDRCondition:
        return cls(_string_option(options, "cidr"))

    def holds(self, value: object, request: AccessRequest) -> bool:
        if not isinstance(value, str):
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.version == self.network.version and address in self.network


class EqualsSubjectCondition:
    """Holds when the field is a string equal to the request's primary subject."""

    type_name: ClassVar[str] = "EqualsSubjectCondition"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EqualsSubjectCondition:
        _only(options, set())
        return cls()

    def holds(self, value: object, request: AccessRequest) -> bool:
        return isinstance(value, str) and value == request.subject


class StringPairsEqualCondition:
    """Holds when the field is a list of two-string lists, each pair equal.

    An empty list holds, as in Ladon: there is no unequal pair in it.
    """

    type_name: ClassVar[str] = "StringPairsEqualCondition"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> StringPairsEqualCondition:
        _only(options, set())
        return cls()

    def holds(self, value: object, request: AccessRequest) -> bool:
        if not isinstance(value, list | tuple):
            return False
        for pair in value:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                return False
            first, second = pair
            if not (isinstance(first, str) and isinstance(second, str) and first == second):
                return False
        return True


class BooleanCondition:
    """Holds when the field is a JSON boolean equal to `value`."""

    type_name: ClassVar[str] = "BooleanCondition"

    def __init__(self, value: bool) -> None:
        self.value = value

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> BooleanCondition:
        _only(options, {"value"})
        value = options.get("value")
        if not isinstance(value, bool):
            raise ConditionOptionsError("option 'value' must be true or false")
        return cls(value)

    def holds(self, value: object, request: AccessRequest) -> bool:
        return isinstance(value, bool) and value == self.value


class ResourceContainsCondition:
    """Holds when the field `{"value": V, "delimiter": D}` names a part of the resource.

    `D+V+D` must occur in `D+resource+D`, so with `:` as delimiter `1` is found in `a:1:b`
    but not in `a:10`; without a delimiter it is a plain substring test.
    """

    type_name: ClassVar[str] = "ResourceContainsCondition"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ResourceContainsCondition:
        _only(options, set())
        return cls()

    def holds(self, value: object, request: AccessRequest) -> bool:
        if not isinstance(value, Mapping):
            return False
        wanted = value.get("value")
        if not isinstance(wanted, str) or not wanted:
            return False
        delimiter = value.get("delimiter")
        if not isinstance(delimiter, str):
            delimiter = ""
        return f"{delimiter}{wanted}{delimiter}" in f"{delimiter}{request.resource}{delimiter}"


CONDITION_TYPES: dict[str, ConditionType] = {
    kind.type_name: kind
    for kind in (
        StringEqualCondition,
        StringMatchCondition,
        CIDRCondition,
        EqualsSubjectCondition,
        StringPairsEqualCondition,
        BooleanCondition,
        ResourceContainsCondition,
    )
}


def build_condition(type_name: str, options: Mapping[str, Any]) -> Condition:
    """The condition for a document's `{"type", "options"}`, or ConditionOptionsError."""
    kind = CONDITION_TYPES.get(type_name)
    if kind is None:
        known = ", ".join(sorted(CONDITION_TYPES))
        raise ConditionOptionsError(f"unknown condition type {type_name!r}; known: {known}")
    return kind.from_options(options)
