"""The request the gate decides on, as plain data: the built-in proxy and the
forward-auth endpoint each describe a request this way, so one pipeline serves both."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110 5.6.2 token: what a method name may be."""


class BadGateRequest(Exception):
    """The request cannot be described unambiguously (400): decide nothing on it."""

    def __init__(self, reason_id: str, description: str) -> None:
        super().__init__(description)
        self.reason_id = reason_id
        self.description = description


_COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def check_method(method: str) -> str:
    """A method token as sent; methods are case-sensitive (RFC 9110 9.1), so never folded."""
    if method in _COMMON_METHODS:
        return method
    if not _TOKEN.fullmatch(method) or len(method) > 32:
        raise BadGateRequest("bad_method", "The method is not a valid token.")
    return method


Headers = tuple[tuple[str, str], ...]
HeaderIndex = dict[str, list[str]]


def _index(headers: Headers) -> HeaderIndex:
    index: HeaderIndex = {}
    for key, value in headers:
        found = index.get(key)
        if found is None:
            index[key] = [value]
        else:
            found.append(value)
    return index


def read_headers(raw: Iterable[tuple[bytes, bytes]]) -> tuple[Headers, HeaderIndex]:
    """An ASGI server's header list (names already lower-case) as text, in order, and
    every value of each name: one pass, for the hot paths that need both."""
    headers = tuple([(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw])
    return headers, _index(headers)


@dataclass(frozen=True)
class GateRequest:
    """One request to decide: method, where it goes, and the headers the client sent.

    `headers` keeps every field line in order with lower-cased names, because a repeated
    credential header is itself a reason to refuse.
    """

    method: str
    scheme: str
    host: str
    raw_path: str
    query: str
    headers: Headers
    peer: str | None = None

    @classmethod
    def indexed(
        cls,
        headers: Headers,
        index: HeaderIndex,
        *,
        method: str,
        scheme: str,
        host: str,
        raw_path: str,
        query: str,
        peer: str | None,
    ) -> GateRequest:
        """A request whose header index the caller already built (read_headers)."""
        request = cls(method, scheme, host, raw_path, query, headers, peer)
        request.__dict__["_by_name"] = index  # where cached_property keeps its value
        return request

    @cached_property
    def _by_name(self) -> HeaderIndex:
        """Every value of each header name, built once: stages ask for several names."""
        return _index(self.headers)

    def values(self, name: str) -> list[str]:
        return list(self._by_name.get(name.lower(), ()))

    def header(self, name: str) -> str | None:
        """The one value of a header; a repeated one is ambiguous and refused."""
        found = self.values(name)
        if len(found) > 1:
            raise BadGateRequest("repeated_header", f"{name} is sent more than once.")
        return found[0] if found else None

    def cookie(self, name: str) -> str | None:
        """A cookie's value; one sent twice (a sibling domain may add one) counts as none."""
        found = []
        for line in self.values("cookie"):
            for part in line.split(";"):
                key, sep, value = part.strip().partition("=")
                if sep and key == name:
                    found.append(value.strip())
        return found[0] if len(found) == 1 else None


_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)\.?(?::(\d{1,5}))?")


def host_name(value: str | None) -> str | None:
    """The host routes are matched on: lower case, without port or trailing dot.

    A value that is not a plain host name or address is refused rather than matched
    (a comma would mean a proxy joined two values).
    """
    if value is None or value == "":
        return None
    return _parsed_host(value)


@lru_cache(maxsize=1024)
def _parsed_host(value: str) -> str:
    """host_name's work, remembered per value (a refused one raises and is not cached)."""
    match = _HOST.fullmatch(value.strip().lower())
    if match is None:
        raise BadGateRequest("bad_host", "The host is not a valid host name.")
    return match.group(1)
