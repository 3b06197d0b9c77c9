"""The route table: which route serves a request, compiled once from the configuration.

A request is matched on its normalized path (see `paths`), its host (lowercased, no port)
and its method. Among the routes whose host and path match, the winner is the one with the
most specific host (exact name > `*.` wildcard > any host), then the most specific path
pattern (more literal segments; then, left to right, literal > `*` > `**`), then the higher
priority. Configuration validation refuses ties, so the winner is always unique.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate.gateway.config import RouteSettings
from authgate.gateway.paths import split_path
from authgate.gateway.patterns import NO_HOST_MATCH, host_rank


@dataclass(frozen=True)
class RouteMatch:
    route: RouteSettings
    path: str
    """The normalized request path, as matched."""
    upstream_path: str
    """The path to forward: `path` without the route's `strip_prefix`, starting with '/'."""
    params: list[str]
    """What the wildcards captured: each `*` segment, then the `**` rest joined by '/'."""


class NoRoute(Exception):
    """No route serves this host and path (404)."""


class MethodNotAllowed(Exception):
    """Routes serve this path, but none for this method (405)."""

    def __init__(self, allowed: list[str]) -> None:
        self.allowed = allowed
        super().__init__(f"allowed: {', '.join(allowed)}")


@dataclass(frozen=True)
class _Compiled:
    route: RouteSettings
    specificity: tuple[int, tuple[int, ...], int]


class RouteTable:
    """Routes in match order, ready for `match`.

    Built from validated `GatewaySettings.routes`, whose validation refused ties.
    """

    def __init__(self, routes: list[RouteSettings]) -> None:
        compiled = [_Compiled(route, route.pattern.specificity) for route in routes]
        compiled.sort(key=lambda c: (c.specificity, c.route.priority), reverse=True)
        self._routes = tuple(compiled)

    def __len__(self) -> int:
        return len(self._routes)

    def match(self, method: str, host: str | None, path: str) -> RouteMatch:
        """The route for a normalized `path`; raises NoRoute or MethodNotAllowed.

        The method is compared upper-cased: a `get` is authorized as a GET, never by a more
        lenient route, whatever the upstream then makes of it.
        """
        method = method.upper()
        segments = split_path(path)
        best: tuple[int, RouteSettings, list[str]] | None = None
        allowed: set[str] = set()
        path_matched = False
        for compiled in self._routes:
            route = compiled.route
            rank = host_rank(route.host_patterns, host)
            if rank == NO_HOST_MATCH or (best is not None and rank <= best[0]):
                continue
            params = route.pattern.match(segments)
            if params is None:
                continue
            path_matched = True
            methods = route.allowed_methods
            if methods is not None and method not in methods:
                allowed |= methods
                continue
            best = (rank, route, params)
        if best is None:
            if path_matched:
                raise MethodNotAllowed(sorted(allowed))
            raise NoRoute(path)
        _, route, params = best
        upstream_path = "/" + "/".join(segments[route.strip_segments :])
        return RouteMatch(route=route, path=path, upstream_path=upstream_path, params=params)
