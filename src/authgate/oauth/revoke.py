"""Token revocation (RFC 7009)."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
