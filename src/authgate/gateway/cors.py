"""Per-route CORS: which browser origins may call a route, as headers to answer with.

Pure and ASGI-free: the proxy asks `preflight` before authentication (a browser sends a
preflight without credentials, so it cannot be authenticated) and adds
`response_headers` to the upstream's answer. Origins match exactly, as browsers send them
(`https://app.example.com`, lower case, no path); `*` allows any origin and is refused
with credentials, which would hand every site the user's session.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.gateway.cors_values import TOKEN, WILDCARD

if TYPE_CHECKING:
    from authgate.gateway.config import RouteSettings

MAX_AGE = 600
"""Seconds a browser may reuse a preflight answer."""
MAX_REQUEST_HEADERS = 32
"""Names a preflight may ask for; more is refused, not truncated."""
MAX_ORIGIN = 2048

Headers = Sequence[tuple[str, str]]


class CorsOriginDenied(Exception):
    """403: a preflight from an origin the route does not allow."""

    reason_id = "origin_not_allowed"

    def __init__(self, origin: str) -> None:
        super().__init__(f"origin {origin[:100]!r} is not allowed")
        self.description = "This origin may not call this route."


class CorsPreflightDenied(Exception):
    """403: an allowed origin's preflight asks for what the route does not allow."""

    def __init__(self, reason_id: str, description: str) -> None:
        super().__init__(description)
        self.reason_id = reason_id
        self.description = description


def is_cors_header(name: str) -> bool:
    """Whether an upstream's response header is one the gate's CORS answer replaces."""
    return name.lower().startswith("access-control-")


def _one(headers: Headers, name: str) -> str | None:
    found = [value for key, value in headers if key.lower() == name]
    if len(found) > 1:
        raise CorsPreflightDenied("repeated_header", f"{name} is sent more than once.")
    return found[0].strip() if found else None


def _request_headers(headers: Headers) -> list[str]:
    """The header names a preflight asks for, lower case, each checked to be a token."""
    names = [
        name.strip().lower()
        for key, value in headers
        if key.lower() == "access-control-request-headers"
        for name in value.split(",")
        if name.strip()
    ]
    if len(names) > MAX_REQUEST_HEADERS:
        raise CorsPreflightDenied("too_many_headers", "The preflight asks for too many headers.")
    if not all(TOKEN.fullmatch(name) for name in names):
        raise CorsPreflightDenied("bad_request_headers", "A requested header is not a token.")
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class RouteCors:
    """One route's CORS rules; `allowed_methods` None means any method."""

    origins: frozenset[str]
    credentials: bool = False
    expose_headers: tuple[str, ...] = ()
    allowed_methods: Collection[str] | None = None

    def __post_init__(self) -> None:
        if WILDCARD in self.origins and self.credentials:
            raise ValueError("origin '*' cannot be combined with credentials")

    @classmethod
    def of(cls, route: RouteSettings) -> RouteCors | None:
        """The rules of a route's validated `cors:` section; None when it has none."""
        if route.cors is None:
            return None
        return cls(
            origins=frozenset(route.cors.origins),
            credentials=route.cors.credentials,
            expose_headers=tuple(route.cors.expose_headers),
            allowed_methods=route.allowed_methods,
        )

    def allows(self, origin: str | None) -> bool:
        if origin is None or len(origin) > MAX_ORIGIN:
            return False
        return WILDCARD in self.origins or origin in self.origins

    def _allow_origin(self, origin: str) -> list[tuple[str, str]]:
        if WILDCARD in self.origins:
            return [("Access-Control-Allow-Origin", WILDCARD)]
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def preflight(self, method: str, headers: Headers) -> list[tuple[str, str]] | None:
        """The answer to a CORS preflight, or None when this request is not one (not an
        OPTIONS with Origin and Access-Control-Request-Method): route it as usual.

        Raises CorsOriginDenied for an origin the route does not allow, and
        CorsPreflightDenied for a method or headers that cannot be allowed.
        """
        if method != "OPTIONS":
            return None
        origin = _one(headers, "origin")
        requested = _one(headers, "access-control-request-method")
        if origin is None or requested is None:
            return None
        if not self.allows(origin):
            raise CorsOriginDenied(origin)
        if not TOKEN.fullmatch(requested):
            raise CorsPreflightDenied("bad_request_method", "The requested method is not a token.")
        if self.allowed_methods is not None and requested not in self.allowed_methods:
            raise CorsPreflightDenied("method_not_allowed", "This route does not serve the method.")
        answer = self._allow_origin(origin)
        answer.append(("Access-Control-Allow-Methods", requested))
        names = _request_headers(headers)
        if names:
            answer.append(("Access-Control-Allow-Headers", ", ".join(names)))
        answer.append(("Access-Control-Max-Age", str(MAX_AGE)))
        return answer

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        """What to add to an actual response for `origin`: nothing for a foreign or
        absent origin, so the browser keeps the answer from the calling page."""
        if origin is None or not self.allows(origin):
            return []
        answer = self._allow_origin(origin)
        if self.expose_headers:
            answer.append(("Access-Control-Expose-Headers", ", ".join(self.expose_headers)))
        return answer
