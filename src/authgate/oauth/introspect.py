"""Token introspection (RFC 7662)."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
