"""A Starlette router that finds a fixed path's route without trying every route first.

Starlette's `Router` matches a request by trying each route's regular expression in
order. authgate's public app has about a hundred routes, and the hottest ones (the token
and introspection endpoints) sit forty deep: a profile of client-credentials grants put
that scan at about a tenth of the server's CPU. No router of Starlette's does better, so
this one keeps Starlette's semantics and adds an index: for each fixed path (a route's
path without parameters), the routes whose expression matches that path, in the router's
order. A request for such a path tries only those, with Starlette's rule (the first full
match wins; else the first partial match, which answers 405). A request for any other
path, or one none of the candidates takes, goes through Starlette's own scan, so redirects
and 404s are Starlette's.

The index is rebuilt when the route list changes length (routes are appended after the
app is built, e.g. by `add_route`). A route type without a path expression (`Host`) turns
the index off: which of them match depends on more than the path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

Candidates = dict[str, tuple[BaseRoute, ...]]


def path_candidates(routes: Sequence[BaseRoute]) -> Candidates:
    """For each fixed path among `routes`, the routes (in order) whose expression matches it;
    empty when some route cannot be judged by its path alone."""
    expressions: list[re.Pattern[str] | None] = [
        getattr(route, "path_regex", None) for route in routes
    ]
    if None in expressions:
        return {}
    fixed = {
        route.path for route in routes if isinstance(route, Route) and not route.param_convertors
    }
    return {
        path: tuple(
            route
            for route, expression in zip(routes, expressions, strict=True)
            if expression is not None and expression.match(path)
        )
        for path in fixed
    }


class IndexedRouter(Router):
    """Starlette's router, with fixed paths looked up instead of scanned for."""

    def __init__(self, routes: Sequence[BaseRoute] | None = None, **options: Any) -> None:
        super().__init__(routes, **options)
        self._indexed_count = -1
        self._candidates: Candidates = {}

    def candidates(self, path: str) -> tuple[BaseRoute, ...] | None:
        if len(self.routes) != self._indexed_count:
            self._candidates = path_candidates(self.routes)
            self._indexed_count = len(self.routes)
        return self._candidates.get(path)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            routes = self.candidates(get_route_path(scope))
            if routes is not None and await self._handled(routes, scope, receive, send):
                return
        await super().app(scope, receive, send)

    async def _handled(
        self, routes: tuple[BaseRoute, ...], scope: Scope, receive: Receive, send: Send
    ) -> bool:
        chosen: tuple[BaseRoute, Scope] | None = None
        for route in routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                chosen = (route, child_scope)
                break
            if match is Match.PARTIAL and chosen is None:
                chosen = (route, child_scope)
        if chosen is None:
            return False
        route, child_scope = chosen
        scope.setdefault("router", self)
        scope["route"] = route
        scope.update(child_scope)
        await route.handle(scope, receive, send)
        return True
