"""The token endpoint (RFC 6749 3.2, 4.1.3, 4.4, 6)."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
